"""Group commit: concurrent runs sharing commits end as they would alone; a write refused by
its fence rolls back alone, the others in its commit stay."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from benchmarks.transition import AS_OF, Account, Market, Signals
from fsm.clock import SystemClock
from fsm.engine import Engine
from fsm.errors import ConcurrentModification
from fsm.ids import UuidFactory
from fsm.kinds import Durability, Mode
from fsm.ports import RunFilter
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.groupcommit import GroupCommit, PendingWrite
from persistence.store import SqlRunStore
from tests.conftest import broken_links


@pytest.mark.parametrize("durability", list(Durability))
def test_concurrent_runs_sharing_commits_all_end_intact(
    migrated_url: str, durability: Durability
) -> None:
    store = SqlRunStore(make_engine(migrated_url, pool_size=10))
    store.share_commits()

    def drive(lane: int) -> None:
        engine = Engine(store, Ports(Signals(), Market(), Account()),  # type: ignore[arg-type]
                        Settings(durability=durability), SystemClock(), UuidFactory())  # fmt: skip
        for n in range(lane, 24, 8):
            engine.run(RunRequest(account_id=f"acct-{n}", mode=Mode.DRY_RUN, as_of=AS_OF))

    lanes = [threading.Thread(target=drive, args=(lane,)) for lane in range(8)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    runs = store.list_runs(RunFilter(limit=100))
    assert len(runs) == 24
    assert {r.state for r in runs} == {"done"}
    for run in runs:
        ledger = store.ledger(run.run_id)
        assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
        assert not broken_links(ledger)
    assert store.group is not None
    assert store.group.writes == 24 * 4  # every transition after `created` went through it


def test_a_refused_write_rolls_back_alone(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))

    def refused(tx: object) -> None:
        tx.cursor.execute("INSERT INTO t VALUES (1)")  # type: ignore[attr-defined]
        raise ConcurrentModification("another process moved this run")

    def accepted(tx: object) -> None:
        tx.cursor.execute("INSERT INTO t VALUES (2)")  # type: ignore[attr-defined]

    first, second = PendingWrite("run_a", refused), PendingWrite("run_b", accepted)
    GroupCommit(engine, None)._commit([first, second])
    assert isinstance(first.error, ConcurrentModification)
    assert second.error is None
    assert first.done.is_set()
    assert second.done.is_set()
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT x FROM t"))] == [2]


def test_a_worker_shares_commits_only_when_asked_and_with_threads_to_share(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsm.compose.stores import open_worker_store

    db = sqlite_url
    migrate.upgrade(make_engine(db))
    monkeypatch.setenv("TRADEFSM_GROUP_COMMIT", "true")
    assert open_worker_store(db, 4).group is not None
    assert open_worker_store(db, 1).group is None  # one thread: nothing to share
    monkeypatch.setenv("TRADEFSM_GROUP_COMMIT", "false")
    assert open_worker_store(db, 4).group is None
