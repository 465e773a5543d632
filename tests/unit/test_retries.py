"""One retry mechanism for a step's tries and a database write's ride-through: each retried try
is logged the same way, and a first try that succeeds builds no retry machinery."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import DatabaseUnavailable
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.ridethrough import RideThrough
from tests.conftest import make_engine_for
from tests.integration.test_db_ride_through import FlakyMarket  # prices fail once, then answer


def _retried(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {k: getattr(r, k) for k in ("what", "attempt", "error")}
        for r in caplog.records
        if r.name == "tradefsm.retry" and r.getMessage() == "retrying"
    ]


def test_a_step_and_a_database_write_log_each_retried_try_alike(
    caplog: pytest.LogCaptureFixture, broker: PaperBroker, clock: FixedClock
) -> None:
    caplog.set_level(logging.INFO, logger="tradefsm")
    engine = make_engine_for(MemoryRunStore(), broker, clock, Settings(retry_base_seconds=0),
                             market=FlakyMarket())  # fmt: skip
    assert engine.run(RunRequest(account_id="paper")).state == "done"
    calls = iter([DatabaseUnavailable("connection refused")])

    def write() -> None:
        error = next(calls, None)
        if error:
            raise error

    RideThrough(sleep=lambda _s: None).write("attempt record", write, settled=lambda: False)
    [step, database] = _retried(caplog)
    assert step == {"what": "step analyzing", "attempt": 1,
                    "error": "provider answered 503"}  # fmt: skip
    assert database == {"what": "attempt record", "attempt": 1, "error": "connection refused"}


def test_a_first_try_that_succeeds_builds_no_retry_machinery(
    monkeypatch: pytest.MonkeyPatch, broker: PaperBroker, clock: FixedClock
) -> None:
    def no_tenacity(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("tenacity was built for a call that succeeded at once")

    monkeypatch.setattr("fsm.retries.Retrying", no_tenacity)
    monkeypatch.setattr("fsm.retries.stop_any", no_tenacity)
    assert RideThrough().call("intent read", lambda: "ok") == "ok"
    engine = make_engine_for(MemoryRunStore(), broker, clock)
    assert engine.run(RunRequest(account_id="paper")).state == "done"


def test_a_write_that_gives_up_names_its_run_whatever_failed_last() -> None:
    def settle() -> bool:  # the read of whether it committed fails, with no run to name
        raise DatabaseUnavailable("connection refused")

    def write() -> None:
        raise DatabaseUnavailable("connection refused", run_id="run_1")

    ride = RideThrough(budget_seconds=0.2, base_seconds=0.001, sleep=lambda _s: None)
    with pytest.raises(DatabaseUnavailable) as gave_up:
        ride.write("order intents", write, settle, run_id="run_1")
    assert gave_up.value.run_id == "run_1"
    assert "the order intents was retried for 0.2 s" in gave_up.value.message
