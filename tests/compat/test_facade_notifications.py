"""The facade tells its injected notification_service when a run ends, in the legacy shape
(keywords: kind, subject, text_content, run_id, correlation_id), once per run; a service that
raises is logged and changes nothing of the call or its run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from fsm.compat import TradingOrchestrator
from tests.compat.test_facade import Services
from tests.compat.test_facade_resume import _interrupted, _site


class Recorder:
    """A legacy notification service that records each call (and raises when told to)."""

    def __init__(self, raises: BaseException | None = None) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.raises = raises

    def notify(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises

    def kinds(self) -> list[str]:
        return [kwargs["kind"] for _, kwargs in self.calls]


def _facade(services: Services, recorder: Recorder, **kw: Any) -> TradingOrchestrator:
    return TradingOrchestrator(
        signal_orchestrator=services.signals, portfolio_orchestrator=services.portfolio,
        execution_orchestrator=services.execution, notification_service=recorder, **kw,
    )  # fmt: skip


def test_a_trading_call_that_succeeds_is_one_success_notification() -> None:
    recorder = Recorder()
    facade = _facade(Services(), recorder)
    answer = facade.execute_strategy_signals_with_trading()
    assert answer is not None
    assert answer["success"] is True
    run = facade.last_run
    assert run is not None
    [(args, kwargs)] = recorder.calls  # the signals step of the same run told nothing
    assert args == ()
    assert set(kwargs) == {"kind", "subject", "text_content", "run_id", "correlation_id"}
    assert kwargs["kind"] == "SUCCESS"
    assert (kwargs["run_id"], kwargs["correlation_id"]) == (run.run_id, run.correlation_id)
    assert kwargs["subject"] == f"tradefsm SUCCESS: run {run.run_id} (legacy, paper)"
    assert "ended done" in kwargs["text_content"]
    assert "Orders: none placed by tradefsm." in kwargs["text_content"]  # the service's


def test_a_failed_call_names_its_state_and_reason() -> None:
    services = Services()
    services.execution.execute_rebalance_plan.side_effect = ConnectionError("broker unreachable")
    recorder = Recorder()
    assert _facade(services, recorder).execute_strategy_signals_with_trading() is None
    [(_, kwargs)] = recorder.calls
    assert kwargs["kind"] == "FAILURE"
    assert "Failed in state: executing\n" in kwargs["text_content"]
    assert "ConnectionError: broker unreachable" in kwargs["text_content"]


def test_a_signals_only_call_is_notified_too() -> None:
    recorder = Recorder()
    facade = _facade(Services(), recorder)
    assert facade.execute_strategy_signals() is not None
    assert recorder.kinds() == ["SUCCESS"]


def test_a_resumed_run_that_ends_done_is_recovered(tmp_path: Path) -> None:
    _, store, services = _site(tmp_path)
    run_id = _interrupted(store, services, "planning")
    recorder = Recorder()
    assert _facade(services, recorder, store=store).resume(run_id).state == "done"
    assert recorder.kinds() == ["RECOVERED"]
    assert recorder.calls[0][1]["run_id"] == run_id


def test_a_service_that_raises_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(raises=RuntimeError("mail server down"))
    facade = _facade(Services(), recorder)
    with caplog.at_level(logging.WARNING, logger="tradefsm.compat"):
        answer = facade.execute_strategy_signals_with_trading()
    assert answer is not None
    assert answer["success"] is True
    assert facade.last_run is not None
    assert facade.last_run.state == "done"
    assert recorder.kinds() == ["SUCCESS"]
    [record] = [r for r in caplog.records if "notification of run" in r.message]
    assert record.levelno == logging.WARNING
    assert record.correlation_id == facade.last_run.correlation_id  # type: ignore[attr-defined]
    assert facade.execute_strategy_signals_with_trading() is not None  # the next call works


def test_no_service_is_no_call() -> None:
    facade = _facade(Services(), None)  # type: ignore[arg-type]
    assert facade.execute_strategy_signals_with_trading() is not None
