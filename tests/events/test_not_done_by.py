"""``run.not_done_by``: a run of the day not done by ``not_done_by`` is an event, handed to a
subscriber once, with a stable id; the time passing is a fake clock's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.delivery import Subscriber, deliver
from fsm.errors import DeliveryFailed
from fsm.events import RunEvent
from fsm.ids import SequentialIdFactory
from fsm.overdue import NotDoneBy, not_done_events
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.subscribers import subscribers_of
from persistence import migrate
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.events.receiver import SECRET

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)
RULE = NotDoneBy.parse("15:45 America/New_York", "")
BEFORE = datetime(2026, 11, 27, 20, 40, tzinfo=UTC)  # 15:40 in New York
AFTER = datetime(2026, 11, 27, 20, 50, tzinfo=UTC)  # 15:50


@pytest.fixture
def store(tmp_path: Path) -> SqlRunStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(engine)
    return SqlRunStore(engine)


def _runs(store: SqlRunStore, tmp_path: Path) -> str:
    """A run done in the morning and one waiting for approval all day: its id."""
    clock = FixedClock(TRADING_DAY)
    for account, settings in (("early", FAST), ("parked", FAST.model_copy(
            update={"approval_notional": 1000}))):  # fmt: skip
        broker = PaperBroker(tmp_path / f"{account}.db")
        run = make_engine_for(store, broker, clock, settings, ids=SequentialIdFactory(account)).run(
            RunRequest(account_id=account)
        )
    assert run.state == "awaiting_approval"
    return run.run_id


def _subscriber(store: SqlRunStore, taken: list[RunEvent]) -> Subscriber:
    def alerts(after: datetime | None, now: datetime) -> list[RunEvent]:
        return not_done_events(store, RULE, after, now, None)

    return Subscriber("ops", taken.append, 3, alerts=alerts)


def test_a_run_not_done_by_the_deadline_is_one_event(store: SqlRunStore, tmp_path: Path) -> None:
    parked = _runs(store, tmp_path)
    log, taken = SqlEventLog(store.engine), []
    deliver(log, _subscriber(store, taken), FixedClock(BEFORE))
    ledger_events = list(taken)
    assert all(e.kind != "run.not_done_by" for e in ledger_events)
    deliver(log, _subscriber(store, taken), FixedClock(AFTER))
    [late] = taken[len(ledger_events) :]
    assert (late.kind, late.id, late.run_id) == (
        "run.not_done_by",
        f"{parked}:not_done_by:2026-11-27",
        parked,
    )
    assert late.summary.startswith("not done by 15:45 America/New_York on 2026-11-27")
    assert late.occurred_at == datetime(2026, 11, 27, 20, 45, tzinfo=UTC)
    deliver(log, _subscriber(store, taken), FixedClock(AFTER))  # a later round, a new process
    deliver(SqlEventLog(store.engine), _subscriber(store, taken), FixedClock(AFTER))
    assert taken[len(ledger_events) :] == [late]


def test_a_subscriber_that_failed_is_handed_it_again(store: SqlRunStore, tmp_path: Path) -> None:
    _runs(store, tmp_path)
    log, taken = SqlEventLog(store.engine), []
    deliver(log, _subscriber(store, taken), FixedClock(BEFORE))

    def refuse(event: RunEvent) -> None:
        raise DeliveryFailed("receiver down")

    down = Subscriber("ops", refuse, 3, alerts=_subscriber(store, taken).alerts)
    assert deliver(log, down, FixedClock(AFTER)).attempts == 1
    later = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    deliver(log, _subscriber(store, taken), FixedClock(later))
    assert [e.kind for e in taken].count("run.not_done_by") == 1


def test_the_setting_gives_every_subscriber_the_events(store: SqlRunStore) -> None:
    settings = Settings(not_done_by="15:45", webhook_url="http://127.0.0.1:9/h",
                        webhook_secret=SECRET)  # fmt: skip
    [hook] = subscribers_of(settings, store)
    assert hook.alerts is not None  # the exchange's zone: XNYS, New York
    assert hook.alerts(BEFORE, AFTER) == []  # no run yet
    assert subscribers_of(FAST, store) == []
