"""Webhook delivery against a real local receiver that verifies every signature: all events
arrive once acknowledged, a receiver answering 500 or down is retried with backoff until its
tries run out, a slow one never holds up a run, and a deliverer that crashes mid-batch
resumes from its cursor (at-least-once, same ids)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock, SystemClock
from fsm.delivery import DeliveryLoop, Subscriber, backoff, deliver
from fsm.events import RunEvent
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.webhooks import SUBSCRIBER, WebhookSender, webhook_of
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.events.histories import expected_ids
from tests.events.receiver import SECRET, closed_port_url, receiving

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


class ManualClock:
    """Time that moves only when the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


@pytest.fixture
def store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


def _run(store: SqlRunStore, tmp_path: Path, name: str = "a") -> str:
    engine = make_engine_for(store, PaperBroker(tmp_path / f"paper-{name}.db"),
                             FixedClock(TRADING_DAY), settings=FAST,
                             ids=SequentialIdFactory(name))  # fmt: skip
    return engine.run(RunRequest(account_id=f"acct-{name}")).run_id


@pytest.fixture
def ran(store: SqlRunStore, tmp_path: Path) -> tuple[str, SqlEventLog]:
    """A finished run and the event log it is in."""
    return _run(store, tmp_path), SqlEventLog(store.engine)


def _hook(url: str, attempts: int = 3, timeout: float = 10) -> Subscriber:
    settings = Settings(webhook_url=url, webhook_secret=SECRET, webhook_attempts=attempts,
                        webhook_timeout_seconds=timeout)  # fmt: skip
    hook = webhook_of(settings)
    assert hook is not None
    return hook


def _ids(store: SqlRunStore, run_id: str) -> list[str]:
    return expected_ids(store, run_id)


def test_every_event_reaches_the_receiver_signed_and_once_acknowledged(
    store: SqlRunStore, ran: tuple[str, SqlEventLog]
) -> None:
    (run_id, log), clock = ran, FixedClock(TRADING_DAY)
    with receiving() as receiver:
        state = deliver(log, _hook(receiver.url), clock)
        assert receiver.ids() == _ids(store, run_id)
        assert receiver.forged == 0
        assert receiver.taken[0]["type"] == "run.created"
        assert state.position == log.position_of(run_id, len(store.ledger(run_id)))
        deliver(log, _hook(receiver.url), clock)
        assert receiver.tries == len(receiver.ids())  # nothing sent twice once taken


def test_a_receiver_answering_500_is_retried_with_backoff_until_dead(
    store: SqlRunStore, ran: tuple[str, SqlEventLog]
) -> None:
    (run_id, log), clock = ran, ManualClock(TRADING_DAY)
    with receiving() as receiver:
        receiver.status, hook = 500, _hook(receiver.url, attempts=3)
        first = deliver(log, hook, clock)
        assert (first.attempts, first.dead) == (1, False)
        assert first.retry_at == TRADING_DAY + timedelta(seconds=1)
        assert "answered 500" in (first.last_error or "")
        deliver(log, hook, clock)
        assert receiver.tries == 1  # waits for its next try
        for waited in (1, 2):  # seconds after the previous try: 1 s, then 2 s
            clock.advance(timedelta(seconds=waited))
            state = deliver(log, hook, clock)
        assert (receiver.tries, state.attempts, state.dead) == (3, 3, True)
        clock.advance(timedelta(hours=1))
        deliver(log, hook, clock)
        assert receiver.tries == 3  # dead: nothing more is tried
        log.rewind(SUBSCRIBER, state.position, clock.now())  # `tradefsm events redeliver`
        receiver.status = 200
        assert not deliver(log, hook, clock).dead
        assert receiver.ids() == _ids(store, run_id)


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9, 10, 50)] == [1, 2, 4, 256, 300, 300]


def test_a_receiver_that_is_down_loses_nothing(
    store: SqlRunStore, ran: tuple[str, SqlEventLog]
) -> None:
    (run_id, log), clock = ran, ManualClock(TRADING_DAY)
    down = deliver(log, _hook(closed_port_url()), clock)
    assert down.attempts == 1
    assert "did not take the event" in (down.last_error or "")
    assert down.position is None
    clock.advance(timedelta(seconds=1))
    with receiving() as receiver:
        deliver(log, _hook(receiver.url), clock)
        assert receiver.ids() == _ids(store, run_id)


def test_a_slow_receiver_fails_its_try_and_never_holds_up_a_run(
    store: SqlRunStore, tmp_path: Path
) -> None:
    log = SqlEventLog(store.engine)
    with receiving() as receiver:
        receiver.hold.clear()  # answers nothing until released
        _run(store, tmp_path, "x")
        slow = deliver(log, _hook(receiver.url, timeout=0.2), FixedClock(TRADING_DAY))
        assert "timed out" in (slow.last_error or "")
        log.rewind(SUBSCRIBER, None, TRADING_DAY)
        loop = DeliveryLoop(log, _hook(receiver.url, timeout=60), SystemClock(), interval=0.05)
        with loop:
            while receiver.tries < 2:  # the loop's request is now held by the receiver
                time.sleep(0.01)
            started = time.monotonic()
            run_id = _run(store, tmp_path, "b")  # while the deliverer waits for an answer
            assert store.get_run(run_id).state == "done"
            assert time.monotonic() - started < 30
            receiver.hold.set()
            deadline = time.monotonic() + 60
            while set(_ids(store, run_id)) - set(receiver.ids()) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert set(_ids(store, run_id)) <= set(receiver.ids())


class Crash(BaseException):
    """The deliverer's process dying (not an error anything catches)."""


def test_a_deliverer_that_crashes_mid_batch_resumes_from_its_cursor(
    store: SqlRunStore, ran: tuple[str, SqlEventLog]
) -> None:
    (run_id, log), clock = ran, FixedClock(TRADING_DAY)
    with receiving() as receiver:
        send = WebhookSender(receiver.url, SECRET, 10)

        def dies_after_the_third(event: RunEvent) -> None:
            send(event)
            if len(receiver.taken) == 3:
                raise Crash  # taken by the receiver, not yet acknowledged in the cursor

        with pytest.raises(Crash):
            deliver(log, Subscriber(SUBSCRIBER, dies_after_the_third, 3), clock)
        assert log.subscription(SUBSCRIBER).position == log.position_of(run_id, 2)
        deliver(log, _hook(receiver.url), clock)
    ids = _ids(store, run_id)
    assert receiver.ids() == ids[:3] + ids[2:]  # the third again: at-least-once, same id
    assert receiver.forged == 0


def test_a_failing_receiver_leaves_runs_alone(store: SqlRunStore, tmp_path: Path) -> None:
    """Delivery never writes the ledger or a run: a run's rows are the same with or without."""
    run_id = _run(store, tmp_path)
    before = store.ledger(run_id)
    hook = _hook(closed_port_url(), attempts=1)
    assert deliver(SqlEventLog(store.engine), hook, FixedClock(TRADING_DAY)).dead
    assert store.ledger(run_id) == before
