"""Four eyes across a retry lineage: a retried plan cannot be approved by anyone who requested
a run of its lineage or rejected a plan in it, and a retry of a rejected plan always waits.

On SQLite and PostgreSQL, through the engine as every entry point uses it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fsm.errors import GuardRejected
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.integration.test_approval import PARKS, Desk

NO_LIMIT = Settings(actor="trader-ann", approval_timeout_seconds=3600)


@pytest.fixture
def desk(migrated_url: str, tmp_path: Path) -> Desk:
    return Desk(migrated_url, tmp_path)


def _rejected_then_retried(desk: Desk, retry_settings: Settings = PARKS) -> RunRecord:
    first = desk.parked()
    rejected = desk.engine().reject(first.run_id, actor="risk-bob", reason="nope")
    assert rejected.state == "failed"
    retried = desk.engine(settings=retry_settings).retry(first.run_id)
    assert retried.parent_run_id == first.run_id
    return retried


def test_the_retrier_is_the_requester_of_the_retry(desk: Desk) -> None:
    retried = _rejected_then_retried(desk, PARKS.model_copy(update={"actor": "trader-dan"}))
    created = desk.store.ledger(retried.run_id)[0]
    assert (created.event, created.actor) == ("created", "trader-dan")


@pytest.mark.parametrize("approver", ["trader-ann", "TRADER-ANN", "risk-bob"])
def test_nobody_of_the_lineage_approves_the_retry(desk: Desk, approver: str) -> None:
    retried = _rejected_then_retried(desk)
    assert retried.state == "awaiting_approval"
    with pytest.raises(GuardRejected, match="four_eyes"):
        desk.engine().approve(retried.run_id, actor=approver, reason="mine")
    refused = desk.store.ledger(retried.run_id)[-1]
    assert (refused.event, refused.accepted) == ("approved", False)
    four_eyes = next(g for g in refused.guards if g.name == "four_eyes")
    assert four_eyes.inputs["requesters"] == "trader-ann"
    assert four_eyes.inputs["rejecters"] == "risk-bob"
    assert four_eyes.inputs["runs"] == f"{retried.run_id},{retried.parent_run_id}"
    assert desk.store.get_run(retried.run_id).state == "awaiting_approval"
    assert desk.broker.orders() == []


def test_someone_outside_the_lineage_approves_the_retry(desk: Desk) -> None:
    retried = _rejected_then_retried(desk)
    done = desk.engine().approve(retried.run_id, actor="risk-carol", reason="checked")
    assert done.state == "done"
    assert len(desk.broker.orders()) > 0


def test_a_retry_of_a_retry_keeps_every_requester(desk: Desk) -> None:
    retried = _rejected_then_retried(desk, PARKS.model_copy(update={"actor": "trader-dan"}))
    desk.engine().reject(retried.run_id, actor="risk-eve", reason="still no")
    again = desk.engine(settings=PARKS.model_copy(update={"actor": "trader-fay"})).retry(
        retried.run_id
    )
    for approver in ("trader-ann", "trader-dan", "trader-fay", "risk-bob", "risk-eve"):
        with pytest.raises(GuardRejected, match="four_eyes"):
            desk.engine().approve(again.run_id, actor=approver, reason="mine")
    assert desk.engine().approve(again.run_id, actor="risk-gus", reason="ok").state == "done"


def test_a_retry_of_a_rejected_plan_waits_whatever_the_threshold(desk: Desk) -> None:
    retried = _rejected_then_retried(desk, NO_LIMIT)
    assert (retried.state, retried.status.value) == ("awaiting_approval", "active")
    needed = desk.store.ledger(retried.run_id)[-1].guards[-2]  # the last: its deadline
    assert (needed.name, needed.passed) == ("approval_needed", True)
    assert "rejected by risk-bob" in needed.reason
    assert needed.inputs["rejecters"] == "risk-bob"
    assert desk.broker.orders() == []


def test_a_retry_of_a_plan_nobody_rejected_follows_the_threshold(desk: Desk) -> None:
    failed = desk.engine().cancel(desk.parked().run_id, actor="ops", reason="later")
    assert failed.state == "failed"
    retried = desk.engine(settings=NO_LIMIT.model_copy(update={"approval_notional": None}))
    assert retried.retry(failed.run_id).state == "done"


def test_the_approval_limit_alone_leaves_the_first_run_unchanged(desk: Desk) -> None:
    run = desk.engine(settings=PARKS.model_copy(update={"approval_notional": Decimal(10**9)}))
    done = run.run(RunRequest(account_id="paper"))
    needed = next(g for e in desk.store.ledger(done.run_id) for g in e.guards
                  if g.name == "approval_not_needed")  # fmt: skip
    assert set(needed.inputs) == {"total", "limit", "source"}  # no lineage read for a first run
