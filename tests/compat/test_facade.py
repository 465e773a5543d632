"""The legacy interface keeps its answers while every call becomes an audited FSM run."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, Mock

import pytest

from fsm.compat import TradingOrchestrator
from fsm.ports import RunFilter
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import broken_links

SIGNALS = {"success": True, "strategy_signals": [{"symbol": "SPY", "action": "BUY"}],
           "consolidated_portfolio_dto": {"SPY": 0.6, "BND": 0.4}}  # fmt: skip
ACCOUNT = {"cash": 10_000.5, "portfolio_value": 25_000, "account_number": "123456789012"}
FLAGS = ("signal_generation_in_progress", "rebalancing_in_progress", "trading_in_progress")
PLAN = {"items": [{"symbol": "SPY", "action": "BUY", "amount": 1500}]}


class Services:
    """Legacy-style services: plain objects returning loose dicts."""

    def __init__(self, **overrides: Any) -> None:
        self.signals = Mock()
        self.signals.analyze_signals.return_value = overrides.get("signals", SIGNALS)
        self.portfolio = Mock()
        self.portfolio.get_comprehensive_account_data.return_value = overrides.get(
            "account", ACCOUNT
        )
        self.portfolio.analyze_allocation_comparison.return_value = overrides.get(
            "analysis", {"needs_rebalancing": True}
        )
        self.portfolio.create_rebalance_plan.return_value = overrides.get("plan", PLAN)
        self.execution = Mock()
        self.execution.execute_rebalance_plan.return_value = overrides.get(
            "execution", {"success": True, "orders": 1}
        )

    def orchestrator(self, **kw: Any) -> TradingOrchestrator:
        return TradingOrchestrator(
            signal_orchestrator=self.signals, portfolio_orchestrator=self.portfolio,
            execution_orchestrator=self.execution, notification_service=Mock(),
            live_trading=kw.pop("live_trading", False), **kw,
        )  # fmt: skip


def _events(orch: TradingOrchestrator) -> list[str]:
    assert orch.last_run is not None
    rows = orch.store.ledger(orch.last_run.run_id)
    assert not broken_links(rows)
    return [r.event for r in rows]


def test_constructor_is_keyword_only_and_keeps_the_attributes() -> None:
    with pytest.raises(TypeError):
        TradingOrchestrator(Mock(), Mock(), Mock(), Mock(), False)  # type: ignore[misc]
    orch = Services().orchestrator(live_trading=True)
    assert orch.live_trading is True
    assert orch.workflow_state == {
        "signal_generation_in_progress": False, "rebalancing_in_progress": False,
        "trading_in_progress": False, "last_successful_step": None, "last_correlation_id": None,
    }  # fmt: skip


def test_signals_only_call_returns_the_legacy_shape_and_is_a_signals_only_run() -> None:
    orch = Services().orchestrator()
    result = orch.execute_strategy_signals()
    assert result is not None
    assert result["success"] is True
    assert result["strategy_signals"] == SIGNALS["strategy_signals"]
    assert result["consolidated_portfolio_dto"] == SIGNALS["consolidated_portfolio_dto"]
    assert result["correlation_id"] == orch.workflow_state["last_correlation_id"]
    assert orch.last_run is not None
    assert orch.last_run.mode.value == "signals-only"
    assert _events(orch) == ["created", "start", "signals_reported"]
    assert orch.workflow_state["last_successful_step"] == "signal_generation"


@pytest.mark.parametrize("signals", [None, {}, {"success": False}, {"success": 0}])
def test_failed_signals_give_none_and_a_failed_run(signals: Any) -> None:
    orch = Services(signals=signals).orchestrator()
    assert orch.execute_strategy_signals() is None
    assert orch.execute_strategy_signals_with_trading() is None
    assert orch.last_run is not None
    assert orch.last_run.failure["error_type"] == "LegacyServiceFailed"
    assert _events(orch)[-1] == "fail"


def test_full_call_returns_every_part() -> None:
    services = Services()
    orch = services.orchestrator()
    result = orch.execute_strategy_signals_with_trading()
    assert result == {
        "success": True, "strategy_signals": SIGNALS["strategy_signals"],
        "account_data": ACCOUNT, "rebalance_plan": PLAN,
        "execution_result": {"success": True, "orders": 1},
    }  # fmt: skip
    services.portfolio.create_rebalance_plan.assert_called_once_with(
        SIGNALS["strategy_signals"], ACCOUNT
    )
    services.execution.execute_rebalance_plan.assert_called_once_with(PLAN)
    assert _events(orch)[-1] == "execution_completed"
    assert orch.workflow_state["last_successful_step"] == "execution"


@pytest.mark.parametrize("analysis", [None, {}, {"needs_rebalancing": False}])
def test_no_rebalance_needed_is_success_without_plan(analysis: Any) -> None:
    services = Services(analysis=analysis)
    orch = services.orchestrator()
    result = orch.execute_strategy_signals_with_trading()
    assert result is not None
    assert (result["success"], result["rebalance_plan"], result["execution_result"]) == (
        True, None, None
    )  # fmt: skip
    services.portfolio.create_rebalance_plan.assert_not_called()
    assert _events(orch)[-1] == "rebalance_not_needed"
    assert orch.workflow_state["last_successful_step"] == "analysis"


@pytest.mark.parametrize("plan", [{"items": []}, {}, None])
def test_an_empty_plan_is_success_without_execution(plan: Any) -> None:
    services = Services(plan=plan)
    orch = services.orchestrator()
    result = orch.execute_strategy_signals_with_trading()
    assert result is not None
    assert (result["success"], result["execution_result"]) == (True, None)
    services.execution.execute_rebalance_plan.assert_not_called()
    assert _events(orch)[-1] == "plan_empty"


def test_an_execution_that_reports_failure_is_success_false() -> None:
    orch = Services(execution={"success": False}).orchestrator()
    result = orch.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is False
    assert orch.last_run is not None
    assert orch.last_run.state == "failed"


def test_an_execution_without_a_success_key_counts_as_success() -> None:
    result = Services(execution=None).orchestrator().execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True


def test_a_falsy_account_gives_none() -> None:
    assert Services(account={}).orchestrator().execute_strategy_signals_with_trading() is None


@pytest.mark.parametrize(
    "broken",
    ["signals.analyze_signals", "portfolio.get_comprehensive_account_data",
     "portfolio.analyze_allocation_comparison", "portfolio.create_rebalance_plan",
     "execution.execute_rebalance_plan"],
)  # fmt: skip
def test_an_exception_in_any_service_is_ledgered_then_none(broken: str) -> None:
    services = Services()
    owner, method = broken.split(".")
    getattr(getattr(services, owner), method).side_effect = ConnectionError("broker down")
    orch = services.orchestrator()
    assert orch.execute_strategy_signals_with_trading() is None
    assert orch.last_run is not None
    assert orch.last_run.failure["error_type"] == "StepCrashed"
    assert "ConnectionError: broker down" in orch.last_run.failure["message"]
    assert _events(orch)[-1] == "fail"


def test_flags_are_false_after_every_call_even_when_a_caller_set_them() -> None:
    orch = Services().orchestrator()
    seen: list[dict[str, Any]] = []
    orch.portfolio_orchestrator.create_rebalance_plan.side_effect = lambda *_: (
        seen.append(dict(orch.workflow_state)) or PLAN
    )
    for flag in FLAGS:
        orch.workflow_state[flag] = True
    orch.execute_strategy_signals_with_trading()
    assert seen[0]["rebalancing_in_progress"] is True  # set while planning
    assert not any(orch.workflow_state[f] for f in FLAGS)
    orch.portfolio_orchestrator.get_comprehensive_account_data.side_effect = RuntimeError("x")
    orch.workflow_state["trading_in_progress"] = True
    assert orch.execute_strategy_signals_with_trading() is None
    assert orch.workflow_state["trading_in_progress"] is False
    assert orch.workflow_state["last_correlation_id"]


def test_any_payload_shape_is_stored_as_a_redacted_summary() -> None:
    weird = MagicMock(name="SignalDTO")
    weird.get.side_effect = None
    services = Services(signals={"success": True, "strategy_signals": [weird], "token": "abc"},
                        account=Mock(cash=5, account_number="123456789012"),
                        analysis=MagicMock(needs_rebalancing=True),
                        plan=MagicMock(items=[object()]), execution=Mock(success=True))  # fmt: skip
    orch = services.orchestrator()
    result = orch.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["strategy_signals"] == [weird]  # the caller gets its own objects back
    assert orch.last_run is not None
    stored = {c.state: c.output for c in orch.store.checkpoints(orch.last_run.run_id)}
    signals = stored["generating_signals"]["summary"]
    assert signals["strategy_signals"][0]["type"] == "unittest.mock.MagicMock"
    account = stored["analyzing"]["summary"]["account"]
    assert account["type"] == "unittest.mock.Mock"
    assert "123456789012" not in str(stored)


def test_live_trading_runs_in_live_mode_and_a_given_store_keeps_the_runs(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    orch = Services().orchestrator(live_trading=True, store=store)
    orch.execute_strategy_signals_with_trading()
    orch.execute_strategy_signals()
    assert [r.mode.value for r in store.list_runs(RunFilter())] == ["signals-only", "live"]
    assert len(orch.runs()) == 2


def test_a_trading_call_while_the_market_is_closed_returns_none_before_execution() -> None:
    from datetime import timedelta

    from fsm.calendar import calendar_for
    from fsm.clock import FixedClock
    from tests.days import today

    session = calendar_for("XNYS").last_on_or_before(today())
    services = Services()
    orch = services.orchestrator(clock=FixedClock(session.close + timedelta(hours=1)))
    assert orch.execute_strategy_signals_with_trading() is None
    assert orch.last_run is not None
    refused = orch.store.ledger(orch.last_run.run_id)[-2]
    assert (refused.event, refused.accepted) == ("plan_approved", False)
    assert any(g.name == "market_open" and not g.passed for g in refused.guards)
    services.execution.execute_rebalance_plan.assert_not_called()
