"""Events from the ledger on each backend: one per committed row, in commit order, stable ids,
a subscriber's cursor that resumes after a crash of the deliverer (at-least-once)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.delivery import Subscriber, deliver
from fsm.errors import DeliveryFailed
from fsm.eventlog import EventQuery
from fsm.events import RunEvent, read_events
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.events.histories import expected_ids, resumed_run

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


@pytest.fixture
def store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


def _run(store: SqlRunStore, tmp_path: Path, name: str) -> str:
    broker = PaperBroker(tmp_path / f"paper-{name}.db")
    engine = make_engine_for(store, broker, FixedClock(TRADING_DAY), settings=FAST,
                             ids=SequentialIdFactory(name))  # fmt: skip
    return engine.run(RunRequest(account_id=f"acct-{name}")).run_id


def _all(log: SqlEventLog, query: EventQuery | None = None) -> list[RunEvent]:
    found = read_events(log, query or EventQuery(limit=3), "https://console.example/")
    return [e for _, events in found for e in events]


def test_every_committed_row_is_one_event_in_commit_order(
    store: SqlRunStore, tmp_path: Path
) -> None:
    first, second = _run(store, tmp_path, "a"), _run(store, tmp_path, "b")
    events = _all(SqlEventLog(store.engine))
    # the second run began after the first; its orders come before the row that ends execution
    assert [e.id for e in events] == expected_ids(store, first) + expected_ids(store, second)
    assert [e.kind for e in events][:2] == ["run.created", "run.started"]
    done = events[len(expected_ids(store, first)) - 1]
    assert (done.kind, done.state, done.account_id) == ("run.done", "done", "acct-a")
    assert done.link == f"https://console.example/runs/{first}"
    assert done.correlation_id == store.get_run(first).correlation_id
    assert _all(SqlEventLog(store.engine)) == events  # the same ids and content on every read


def test_one_run_and_since_an_event(store: SqlRunStore, tmp_path: Path) -> None:
    first, second = _run(store, tmp_path, "a"), _run(store, tmp_path, "b")
    log = SqlEventLog(store.engine)
    assert {e.run_id for e in _all(log, EventQuery(run_id=second))} == {second}
    after = log.position_of(first, len(store.ledger(first)))
    assert [e.run_id for e in _all(log, EventQuery(after=after))] == [second] * len(
        expected_ids(store, second)
    )
    assert log.position_of(first, 999) is None


def test_a_subscriber_that_fails_mid_batch_resumes_from_its_cursor(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id = _run(store, tmp_path, "a")
    log, got = SqlEventLog(store.engine), []

    def fails_on_the_third(event: RunEvent) -> None:
        if len(got) == 2:
            got.append(event)
            raise DeliveryFailed("receiver went away")
        got.append(event)

    failing = Subscriber("hook", fails_on_the_third, attempts=5)
    state = deliver(log, failing, FixedClock(TRADING_DAY))
    assert (state.position, state.attempts) == (log.position_of(run_id, 2), 1)
    deliver(log, Subscriber("hook", got.append, 5), FixedClock(TRADING_DAY))
    assert len(got) == 3  # nothing sent: it waits for its next try
    later = FixedClock(TRADING_DAY + timedelta(seconds=2))
    state = deliver(log, Subscriber("hook", got.append, 5), later)
    ids, last = expected_ids(store, run_id), len(store.ledger(run_id))
    assert [e.id for e in got] == ids[:3] + ids[2:]  # the failed one again: at-least-once
    assert (state.position, state.attempts) == (log.position_of(run_id, last), 0)
    log.advance("hook", log.position_of(run_id, 1), later.now())  # never back
    assert log.subscription("hook").position == log.position_of(run_id, last)


def test_a_run_another_process_carries_on_is_resumed(store: SqlRunStore, tmp_path: Path) -> None:
    run_id, _ = resumed_run(store, tmp_path, "paper")
    events = _all(SqlEventLog(store.engine))
    kinds = [(e.kind, e.id.removeprefix(f"{run_id}:")) for e in events]
    assert kinds[:5] == [("run.created", "1"), ("run.started", "2"), ("run.progressed", "3"),
                         ("run.resumed", "4:resumed"), ("run.progressed", "4")]  # fmt: skip
    assert kinds[-1] == ("run.done", str(len(store.ledger(run_id))))


@pytest.mark.postgres
def test_rows_behind_an_open_transaction_wait_for_it(pg_cluster: object, tmp_path: Path) -> None:
    """PostgreSQL: a transaction that took its id first may commit last; rows written after
    it began are held back until it ends, so a cursor never passes a row still to come."""
    from persistence import migrate
    from tests.postgres_cluster import PostgresCluster

    assert isinstance(pg_cluster, PostgresCluster)
    engine = make_engine(pg_cluster.new_database())
    migrate.upgrade(engine)
    store, log = SqlRunStore(engine), SqlEventLog(engine)
    with engine.connect() as early:
        early.execute(text("SELECT pg_current_xact_id()"))  # holds the oldest id, open
        run_id = _run(store, tmp_path, "a")
        assert store.ledger(run_id)
        assert not log.rows(EventQuery())
        early.commit()
    assert [e.id for e in _all(log)] == expected_ids(store, run_id)
