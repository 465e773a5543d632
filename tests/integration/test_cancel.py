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
