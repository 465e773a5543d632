"""Resume rules, leases, retries, timeouts and deadlines, in one process on real SQLite."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tenacity import RetryCallState

from fsm.adapters.paper_broker import PaperBroker
from fsm.attempts import backoff
from fsm.clock import FixedClock
from fsm.driver import RunDriver
from fsm.engine import Engine
from fsm.errors import MarketDataUnavailable, RunLeased, RunNotResumable
from fsm.ids import SequentialIdFactory
from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.ports import RunContext
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, broken_links, make_engine_for

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


@pytest.fixture
def store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


class Flaky:
    """Fails with a transient error ``failures`` times, then gives fixed signals."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or MarketDataUnavailable("provider answered 503")

    def generate(self, ctx: RunContext) -> SignalSet:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        targets = (TargetWeight(symbol="SPY", weight=Decimal("0.5")),)
        return SignalSet(as_of=ctx.as_of, strategy="flaky", targets=targets)


class Hanging:
    """A strategy whose provider never answers."""

    def generate(self, ctx: RunContext) -> SignalSet:
        time.sleep(5)
        raise AssertionError("unreachable within the timeout")


HANG_SETTINGS = Settings(step_timeout_seconds=0.2, retry_attempts=1)


_ENGINES = itertools.count(1)  # a number per engine: no two engines make the same run id


def _engine(store: SqlRunStore, broker: PaperBroker, clock: FixedClock, **kw: Any) -> Engine:
    kw.setdefault("settings", FAST)
    ids = SequentialIdFactory(f"e{next(_ENGINES)}-")
    return make_engine_for(store, broker, clock, ids=ids, **kw)


def _interrupted_in(state: str, engine: Engine) -> str:
    """Drive a new run until it reaches ``state``, then abandon it as a crash would."""
    driver = RunDriver(engine.runtime, engine.create(RunRequest(account_id="paper")))
    while driver.run.state != state:
        driver.step()
    return driver.run.run_id


def _expire_lease(clock: FixedClock) -> FixedClock:
    return FixedClock(clock.now() + timedelta(seconds=FAST.lease_seconds + 1))


def test_completed_steps_are_never_run_again(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run_id = _interrupted_in("planning", _engine(store, broker, clock))
    never = Flaky(failures=99, error=AssertionError("signals must come from the checkpoint"))
    resumed = _engine(store, broker, _expire_lease(clock), signals=never).resume(run_id)
    assert resumed.state == "done"
    assert never.calls == 0
    events = [e.event for e in store.ledger(run_id)]
    assert events.count("signals_generated") == 1
    assert events[-2:] == ["plan_approved", "execution_completed"]
    assert not broken_links(store.ledger(run_id))


def test_a_live_lease_refuses_a_second_driver_until_it_expires(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run_id = _interrupted_in("analyzing", _engine(store, broker, clock))
    with pytest.raises(RunLeased, match="held by a live lease"):
        _engine(store, broker, clock).resume(run_id)
    later = _expire_lease(clock)
    assert _engine(store, broker, later).resume(run_id).state == "done"
    with pytest.raises(RunNotResumable, match="already ended done"):
        _engine(store, broker, later).resume(run_id)


def test_a_stale_run_fails_instead_of_trading_on_old_data(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run_id = _interrupted_in("executing", _engine(store, broker, clock))
    days_later = FixedClock(clock.now() + timedelta(days=6))
    failed = _engine(store, broker, days_later).resume(run_id)
    assert failed.failure["error_type"] == "StaleRun"
    assert "retry" in failed.failure["message"]
    assert broker.orders() == []
    assert {i.status for i in store.intents(run_id)} <= {"cancelled"}  # never sent: stood down


def test_a_deadline_that_passed_while_down_fires_once(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run_id = _interrupted_in("analyzing", _engine(store, broker, clock))
    hours_later = FixedClock(clock.now() + timedelta(hours=2))
    failed = _engine(store, broker, hours_later).resume(run_id)
    assert (failed.failure["error_type"], failed.failure["stage"]) == (
        "DeadlineExceeded", "analyzing"
    )  # fmt: skip
    assert [e.event for e in store.ledger(run_id)].count("fail") == 1


def test_transient_errors_are_retried_and_every_attempt_is_stored(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    flaky = Flaky(failures=2)
    run = _engine(store, broker, clock, signals=flaky).run(RunRequest(account_id="paper"))
    assert run.state == "done"
    attempts = [(a.state, a.attempt, a.outcome) for a in store.attempts(run.run_id)]
    assert attempts[1:4] == [
        ("generating_signals", 1, "error"),
        ("generating_signals", 2, "error"),
        ("generating_signals", 3, "ok"),
    ]
    row = next(e for e in store.ledger(run.run_id) if e.event == "signals_generated")
    assert row.attempt == 3


def test_retries_run_out_then_the_run_fails_with_the_error(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run = _engine(store, broker, clock, signals=Flaky(failures=5)).run(
        RunRequest(account_id="paper")
    )
    assert run.failure["error_type"] == "MarketDataUnavailable"
    outcomes = [a.outcome for a in store.attempts(run.run_id) if a.state == "generating_signals"]
    assert outcomes == ["error"] * 3


def test_permanent_errors_fail_at_once(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    from fsm.errors import InvalidConfiguration

    flaky = Flaky(failures=5, error=InvalidConfiguration("strategy config missing"))
    run = _engine(store, broker, clock, signals=flaky).run(RunRequest(account_id="paper"))
    assert run.failure["error_type"] == "InvalidConfiguration"
    assert flaky.calls == 1


def test_a_step_that_hangs_times_out(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    settings = HANG_SETTINGS
    started = time.monotonic()
    run = _engine(store, broker, clock, signals=Hanging(), settings=settings).run(
        RunRequest(account_id="paper")
    )
    assert time.monotonic() - started < 3
    assert (run.failure["error_type"], run.failure["stage"]) == (
        "StepTimeout",
        "generating_signals",
    )


def test_retry_starts_a_linked_run_from_fresh_data(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    failed = _engine(store, broker, clock, signals=Flaky(failures=5)).run(
        RunRequest(account_id="paper")
    )
    retried = _engine(store, broker, clock).retry(failed.run_id)
    assert (retried.state, retried.parent_run_id) == ("done", failed.run_id)
    assert retried.correlation_id == failed.correlation_id
    assert store.ledger(retried.run_id)[0].causation_id == "command:retry"
    with pytest.raises(RunNotResumable, match="only a failed run is retried"):
        _engine(store, broker, clock).retry(retried.run_id)


def test_backoff_has_jitter_a_cap_and_honours_retry_after() -> None:
    wait = backoff(Settings(retry_base_seconds=1, retry_max_seconds=60))
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = 3
    waits = {wait(state) for _ in range(50)}
    assert len(waits) > 1
    assert all(0 <= w <= 60 for w in waits)
    error = MarketDataUnavailable("rate limited")
    error.retry_after = 90
    state.set_exception((type(error), error, None))
    assert wait(state) == 90


def test_resume_policy_is_shown_with_the_run(tmp_path: Path) -> None:
    from fsm.machines.specs import TRADING_SPECS
    from fsm.views import run_details

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    from persistence import migrate

    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    run_id = _interrupted_in("executing", _engine(store, PaperBroker(tmp_path / "p.db"),
                                                  FixedClock(TRADING_DAY)))  # fmt: skip
    details = run_details(store, run_id)
    assert details["resume_policy"]["on_resume"] == "reconcile"
    assert details["resume_policy"] == TRADING_SPECS["executing"].as_json()


def test_a_hanging_step_also_times_out_off_the_main_thread(
    store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    settings = HANG_SETTINGS
    engine = _engine(store, broker, clock, signals=Hanging(), settings=settings)
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(engine.run(RunRequest(account_id="paper")))
    )
    worker.start()
    worker.join(timeout=4)
    assert results
    assert results[0].failure["error_type"] == "StepTimeout"
