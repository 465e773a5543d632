"""Each difference from the legacy class, side by side with what the legacy class did.

The legacy ``TradingOrchestrator`` (its last version before removal) is described in
shared DOMAIN.md §6 and quoted here only as behaviour: what it called, logged and returned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest

from fsm.compat import TradingOrchestrator
from fsm.ports import RunFilter
from fsm.records import RunRecord
from tests.compat.test_facade import ACCOUNT, PLAN, SIGNALS, Services


def _orchestrator(services: Services) -> TradingOrchestrator:
    orchestrator = services.orchestrator()
    orchestrator.logger = Mock()  # as the legacy suite does
    return orchestrator


def test_a_callers_correlation_id_reaches_the_run() -> None:
    orchestrator = _orchestrator(Services())
    result = orchestrator.execute_strategy_signals(correlation_id="caller-7")
    assert result is not None
    assert result["correlation_id"] == "caller-7"
    assert orchestrator.workflow_state["last_correlation_id"] == "caller-7"
    [run] = orchestrator.store.list_runs(RunFilter(account_id="legacy"))
    assert run.correlation_id == "caller-7"


def test_deps_hold_the_services() -> None:
    services = Services()
    deps = _orchestrator(services).deps
    assert (deps.signal_orchestrator, deps.portfolio_orchestrator,
            deps.execution_orchestrator) == (services.signals, services.portfolio,
                                             services.execution)  # fmt: skip


def test_unsuccessful_signals_and_missing_account_are_warnings_with_facts() -> None:
    orchestrator = _orchestrator(Services(signals={"success": False}))
    assert orchestrator.execute_strategy_signals(correlation_id="c1") is None
    extra = orchestrator.logger.warning.call_args.kwargs["extra"]
    assert extra == {"correlation_id": "c1", "component":
                     "TradingOrchestrator.execute_strategy_signals"}  # fmt: skip
    orchestrator = _orchestrator(Services(account=None))
    assert orchestrator.execute_strategy_signals_with_trading() is None
    extra = orchestrator.logger.warning.call_args.kwargs["extra"]
    assert extra["component"] == "TradingOrchestrator.execute_strategy_signals_with_trading"
    orchestrator.logger.error.assert_not_called()


def test_an_exception_is_an_error_log_with_its_type() -> None:
    services = Services()
    services.portfolio.get_comprehensive_account_data.side_effect = TimeoutError("slow")
    orchestrator = _orchestrator(services)
    assert orchestrator.execute_strategy_signals_with_trading() is None
    call = orchestrator.logger.error.call_args
    assert isinstance(call.kwargs["exc_info"], TimeoutError)
    assert call.kwargs["extra"]["error_type"] == "TimeoutError"
    assert call.kwargs["extra"]["correlation_id"] == orchestrator.workflow_state[
        "last_correlation_id"]  # fmt: skip


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_an_exception_that_cannot_be_printed_still_gives_none() -> None:
    services = Services()
    services.execution.execute_rebalance_plan.side_effect = Unprintable()
    orchestrator = _orchestrator(services)
    assert orchestrator.execute_strategy_signals_with_trading() is None
    assert orchestrator.last_run is not None
    assert orchestrator.last_run.state == "failed"


def test_last_successful_step_is_kept_between_calls_and_execution_counts_once_it_returned() -> None:
    orchestrator = _orchestrator(Services(execution={"success": False}))
    result = orchestrator.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is False
    assert orchestrator.workflow_state["last_successful_step"] == "execution"
    orchestrator.deps.signal_orchestrator.analyze_signals.return_value = None
    assert orchestrator.execute_strategy_signals() is None
    assert orchestrator.workflow_state["last_successful_step"] == "execution"  # not reset


def test_trading_goes_through_execute_strategy_signals(monkeypatch: Any) -> None:
    services = Services()
    orchestrator = _orchestrator(services)
    given = {"success": True, "correlation_id": "patched", "strategy_signals": ["X"],
             "consolidated_portfolio_dto": None}  # fmt: skip
    monkeypatch.setattr(orchestrator, "execute_strategy_signals", lambda: given)
    result = orchestrator.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["strategy_signals"] == ["X"]
    services.signals.analyze_signals.assert_not_called()
    services.portfolio.create_rebalance_plan.assert_called_once_with(["X"], ACCOUNT)
    assert orchestrator.last_run is not None
    assert orchestrator.last_run.correlation_id == "patched"
    monkeypatch.setattr(orchestrator, "execute_strategy_signals", lambda: None)
    assert orchestrator.execute_strategy_signals_with_trading() is None


def test_flags_during_a_call_are_the_legacy_ones() -> None:
    services = Services()
    seen: dict[str, dict[str, bool]] = {}
    orchestrator = _orchestrator(services)

    def flags() -> dict[str, bool]:
        state = orchestrator.workflow_state
        names = ("signal_generation_in_progress", "rebalancing_in_progress", "trading_in_progress")
        return {k: state[k] for k in names}

    services.signals.analyze_signals.side_effect = lambda: (
        seen.setdefault("signals", flags()) and SIGNALS
    )
    services.execution.execute_rebalance_plan.side_effect = lambda plan: seen.setdefault(
        "execution", flags()) and {"success": True}  # fmt: skip
    assert orchestrator.execute_strategy_signals_with_trading() is not None
    assert seen["signals"] == {
        "signal_generation_in_progress": True,
        "rebalancing_in_progress": False,
        "trading_in_progress": False,
    }
    assert seen["execution"] == {
        "signal_generation_in_progress": False,
        "rebalancing_in_progress": True,
        "trading_in_progress": False,
    }
    assert not any(flags().values())


def test_a_result_that_is_not_a_dict_counts_as_success() -> None:
    outcome = Mock(success=False)  # legacy: only a dict's "success" is read
    result = _orchestrator(Services(execution=outcome)).execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True
    assert result["execution_result"] is outcome


def test_the_plan_the_caller_gets_is_the_services_own() -> None:
    result = _orchestrator(Services()).execute_strategy_signals_with_trading()
    assert result is not None
    assert result["rebalance_plan"] is not None
    assert result["rebalance_plan"] == PLAN


SCRIPT = """
import signal, sys
from unittest.mock import Mock
from fsm.compat import TradingOrchestrator

def mark(*_): pass
signal.signal(signal.SIGALRM, mark)
signal.setitimer(signal.ITIMER_REAL, 100.0)
signals = Mock(); signals.analyze_signals.return_value = {"success": True, "strategy_signals": []}
portfolio = Mock(); portfolio.get_comprehensive_account_data.return_value = {"cash": 1}
portfolio.analyze_allocation_comparison.return_value = {"needs_rebalancing": True}
portfolio.create_rebalance_plan.return_value = {"items": [1]}
execution = Mock(); execution.execute_rebalance_plan.return_value = {"success": True}
o = TradingOrchestrator(signal_orchestrator=signals, portfolio_orchestrator=portfolio,
                        execution_orchestrator=execution, notification_service=None)
assert o.execute_strategy_signals_with_trading()["success"] is True
remaining, _ = signal.getitimer(signal.ITIMER_REAL)
assert 90 < remaining <= 100, remaining
assert signal.getsignal(signal.SIGALRM) is mark
sys.stderr.write("ok\\n")
"""


def test_a_call_prints_nothing_and_leaves_timers_and_handlers_alone(tmp_path: Path) -> None:
    env = {**os.environ, "TRADEFSM_DB": f"sqlite:///{tmp_path / 'runs.db'}"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == "ok\n"


def test_calls_from_another_thread_run_in_that_thread() -> None:
    services = Services()
    threads: set[str] = set()
    services.execution.execute_rebalance_plan.side_effect = lambda plan: threads.add(
        threading.current_thread().name) or {"success": True}  # fmt: skip
    orchestrator = _orchestrator(services)
    handler = signal.getsignal(signal.SIGALRM)
    worker = threading.Thread(target=orchestrator.execute_strategy_signals_with_trading,
                              name="caller")  # fmt: skip
    worker.start()
    worker.join(10)
    assert threads == {"caller"}  # no helper thread left behind on the caller's behalf
    assert signal.getsignal(signal.SIGALRM) is handler


def test_the_history_lands_where_the_cli_and_the_audit_see_it(run_database: str) -> None:
    orchestrator = _orchestrator(Services())
    assert orchestrator.execute_strategy_signals(correlation_id="legacy-job-1") is not None
    assert orchestrator.execute_strategy_signals_with_trading() is not None
    env = {**os.environ, "TRADEFSM_DB": run_database}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "fsm", *args], env=env, capture_output=True,
                              text=True, check=False, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(cli("runs", "list", "--format", "json"))
    assert len(listed) == 2
    first = next(r for r in listed if r["correlation_id"] == "legacy-job-1")
    assert json.loads(cli("runs", "show", first["run_id"], "--format", "json"))["ledger"]
    assert json.loads(cli("audit", "verify", "--json"))["ok"] is True
    bundle = json.loads(cli("audit", "export", "--run", first["run_id"]))
    assert bundle["run"]["correlation_id"] == "legacy-job-1"
    again = _orchestrator(Services())  # a second instance, as a new process would be
    assert len(again.runs()) == 2


def _start_guards(orchestrator: TradingOrchestrator) -> dict[str, Any]:
    assert orchestrator.last_run is not None
    start = next(r for r in orchestrator.store.ledger(orchestrator.last_run.run_id)
                 if r.event == "start")  # fmt: skip
    return {g.name: g for g in start.guards}


def test_live_trading_without_the_live_switch_is_refused_and_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEFSM_LIVE_TRADING_ENABLED", "false")
    services = Services()
    orchestrator = services.orchestrator(live_trading=True)
    orchestrator.logger = Mock()
    assert orchestrator.execute_strategy_signals_with_trading() is None
    run = orchestrator.last_run
    assert run is not None
    assert (run.mode.value, run.state, run.failure["error_type"]) == ("live", "failed",
                                                                      "GuardRejected")  # fmt: skip
    assert "TRADEFSM_LIVE_TRADING_ENABLED" in run.failure["message"]
    assert _start_guards(orchestrator)["mode_allowed"].passed is False
    services.signals.analyze_signals.assert_not_called()  # refused before any service call
    services.execution.execute_rebalance_plan.assert_not_called()
    assert "TRADEFSM_LIVE_TRADING_ENABLED" in orchestrator.logger.error.call_args.args[0]


@pytest.mark.parametrize("broker", [{}, {"TRADEFSM_BROKER": "alpaca"}])
def test_live_trading_with_the_switch_trades_through_the_injected_execution_service(
    monkeypatch: pytest.MonkeyPatch, broker: dict[str, str]
) -> None:
    monkeypatch.setenv("TRADEFSM_LIVE_TRADING_ENABLED", "true")
    for name, value in broker.items():  # a configured broker is not the facade's
        monkeypatch.setenv(name, value)
    services = Services()
    orchestrator = services.orchestrator(live_trading=True)
    result = orchestrator.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True
    services.execution.execute_rebalance_plan.assert_called_once_with(PLAN)
    assert orchestrator.last_run is not None
    assert (orchestrator.last_run.mode.value, orchestrator.last_run.state) == ("live", "done")
    endpoint = _start_guards(orchestrator)["broker_endpoint"]
    assert endpoint.passed is True
    assert endpoint.inputs["endpoint"] == "unittest.mock.Mock.execute_rebalance_plan"
    assert "live orders go to unittest.mock.Mock.execute_rebalance_plan" in endpoint.reason


def test_paper_trading_goes_to_the_injected_service_whatever_broker_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADEFSM_BROKER", "alpaca")
    monkeypatch.setenv("TRADEFSM_ALPACA_BASE_URL", "https://api.alpaca.markets")  # live
    result = Services().orchestrator().execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True


class Named:
    def __str__(self) -> str:
        return "job-42"


class NoText:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def _recorded_call(given: Any) -> tuple[RunRecord, dict[str, Any]]:
    """A signals call with ``given`` as its correlation id: the stored run and the answer."""
    orchestrator = _orchestrator(Services())
    result = orchestrator.execute_strategy_signals(correlation_id=given)
    assert result is not None
    assert result["correlation_id"] == orchestrator.workflow_state["last_correlation_id"]
    [run] = orchestrator.store.list_runs(RunFilter(account_id="legacy"))
    assert (run.correlation_id, run.state) == (result["correlation_id"], "done")
    return run, result


@pytest.mark.parametrize(
    ("given", "text"), [(12345, "12345"), (Named(), "job-42"), ("c" * 64, "c" * 64)]
)
def test_any_correlation_id_with_a_text_is_used_as_text(given: Any, text: str) -> None:
    run, _ = _recorded_call(given)
    assert run.correlation_id == text
    assert "legacy_correlation_id" not in run.params


@pytest.mark.parametrize("given", [None, 0, ""])
def test_a_missing_correlation_id_gets_a_fresh_one(given: Any) -> None:
    run, _ = _recorded_call(given)
    assert len(run.correlation_id) == 36
    assert "legacy_correlation_id" not in run.params


@pytest.mark.parametrize(
    ("given", "kind"),
    [(object(), "builtins.object"), (NoText(), f"{__name__}.NoText"),
     ("x" * 65, "builtins.str"), ("line\nbreak", "builtins.str"), ("job 1", "builtins.str")],
)  # fmt: skip
def test_a_correlation_id_a_run_cannot_carry_gets_a_fresh_one_and_is_recorded(
    given: Any, kind: str
) -> None:
    run, _ = _recorded_call(given)
    assert len(run.correlation_id) == 36
    recorded = run.params["legacy_correlation_id"]
    assert recorded["type"] == kind
    assert len(recorded["repr"]) <= 200


class OperatorStop(BaseException):
    """Not an error: like KeyboardInterrupt, it must reach the caller."""


@pytest.mark.parametrize(
    ("interruption", "service", "stage"),
    [(KeyboardInterrupt, "signals.analyze_signals", "generating_signals"),
     (OperatorStop("stop now"), "execution.execute_rebalance_plan", "executing")],
)  # fmt: skip
def test_an_interruption_fails_the_run_goes_on_to_the_caller_and_the_next_call_works(
    interruption: BaseException | type[BaseException], service: str, stage: str
) -> None:
    services = Services()
    owner, method = service.split(".")
    getattr(getattr(services, owner), method).side_effect = interruption
    orchestrator = _orchestrator(services)
    with pytest.raises(KeyboardInterrupt if interruption is KeyboardInterrupt else OperatorStop):
        orchestrator.execute_strategy_signals_with_trading()
    [run] = orchestrator.store.list_runs(RunFilter(account_id="legacy"))
    assert (run.state, run.failure["stage"]) == ("failed", stage)
    assert run.failure["error_type"] == "LegacyCallInterrupted"
    name = "KeyboardInterrupt" if interruption is KeyboardInterrupt else "OperatorStop: stop now"
    assert f"interrupted in {stage} by {name}" in run.failure["message"]
    assert orchestrator.last_run == run
    assert not any(
        orchestrator.workflow_state[f]
        for f in ("signal_generation_in_progress", "rebalancing_in_progress", "trading_in_progress")
    )
    getattr(getattr(services, owner), method).side_effect = None
    result = orchestrator.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True


class SignalsStoppedWhileRead:
    """Signals whose portfolio the facade reads for its answer, between two steps."""

    success = True
    strategy_signals = SIGNALS["strategy_signals"]

    @property
    def consolidated_portfolio_dto(self) -> Any:
        raise KeyboardInterrupt


def test_an_interruption_between_two_steps_fails_the_run_too() -> None:
    orchestrator = _orchestrator(Services(signals=SignalsStoppedWhileRead()))
    with pytest.raises(KeyboardInterrupt):
        orchestrator.execute_strategy_signals_with_trading()
    [run] = orchestrator.store.list_runs(RunFilter(account_id="legacy"))
    assert (run.state, run.failure["stage"]) == ("failed", "analyzing")
    assert run.failure["error_type"] == "LegacyCallInterrupted"
