"""An operator cancels an unfinished run; the ledger keeps who and why."""

from __future__ import annotations

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import GuardRejected, RunNotResumable
from fsm.requests import RunRequest
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import broken_links, make_engine_for


@pytest.fixture
def sql_store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


def test_cancel_records_the_operator_and_frees_the_account(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    run = engine.create(RunRequest(account_id="paper"))
    cancelled = engine.cancel(run.run_id, actor="ops-alice", reason="market halt")
    assert (cancelled.state, cancelled.status.value) == ("failed", "failed")
    assert cancelled.failure == {
        "error_type": "Cancelled",
        "stage": "idle",
        "message": "market halt",
    }
    last = sql_store.ledger(run.run_id)[-1]
    assert (last.event, last.actor, last.target, last.error_message) == (
        "cancel", "ops-alice", "failed", "market halt"
    )  # fmt: skip
    assert [(d.name, d.passed) for d in last.guards] == [("operator_named", True),
                                                         ("deadline", True)]  # fmt: skip
    assert not broken_links(sql_store.ledger(run.run_id))
    assert engine.run(RunRequest(account_id="paper")).state == "done"  # the account is free


@pytest.mark.parametrize("blank", ["  ", "\u200b", "\u2063\u00ad", "\n\t"])
def test_cancel_without_a_reason_is_refused_and_ledgered(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock, blank: str
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    run = engine.create(RunRequest(account_id="paper"))
    with pytest.raises(GuardRejected):  # nothing a reader could see is no reason
        engine.cancel(run.run_id, actor="ops-bob", reason=blank)
    assert sql_store.get_run(run.run_id).state == "idle"
    refused = sql_store.ledger(run.run_id)[-1]
    assert (refused.event, refused.accepted, refused.target) == ("cancel", False, None)


def test_a_finished_run_cannot_be_cancelled(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    run = engine.run(RunRequest(account_id="paper"))
    with pytest.raises(RunNotResumable, match="already ended done"):
        engine.cancel(run.run_id, actor="ops", reason="late")


def test_migrated_url_fixture_really_migrates(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    assert migrate.current_revisions(engine) == migrate.head_revisions(engine)


def test_a_queued_run_is_cancelled_before_any_worker_starts_it(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    queued = engine.submit(RunRequest(account_id="paper"))
    with pytest.raises(GuardRejected):  # refused: it goes back to the queue at once
        engine.cancel(queued.run_id, actor="ops-bob", reason=" ")
    assert sql_store.get_run(queued.run_id).status.value == "queued"
    cancelled = engine.cancel(queued.run_id, actor="ops-bob", reason="wrong account")
    assert (cancelled.state, cancelled.status.value) == ("failed", "failed")
    assert cancelled.failure["error_type"] == "Cancelled"
    assert not broken_links(sql_store.ledger(queued.run_id))
    worker = make_engine_for(sql_store, broker, clock)
    assert worker.store.claim_next("w", clock.now(), clock.now(), clock.now()) is None


def test_a_refused_cancel_of_a_queued_run_leaves_it_to_the_workers(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    queued = engine.submit(RunRequest(account_id="paper"))
    with pytest.raises(GuardRejected):
        engine.cancel(queued.run_id, actor="ops-bob", reason="\u200b")
    later = clock.now()
    claimed = sql_store.claim_next("w", later, later, later)
    assert claimed is not None
    assert claimed.run_id == queued.run_id
