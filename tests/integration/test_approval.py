"""Four eyes: a large plan parks until someone other than its requester approves it.

On SQLite and PostgreSQL, through the engine as every entry point uses it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.canonical import utc_text
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import GuardRejected, RunNotResumable
from fsm.ids import SequentialIdFactory
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, broken_links, make_engine_for

PARKS = Settings(actor="trader-ann", approval_notional=Decimal(1000), approval_timeout_seconds=3600)


class Desk:
    """One run database and paper broker; each call is a fresh engine, as a new process."""

    def __init__(self, url: str, folder: Path) -> None:
        self.store = SqlRunStore(make_engine(url))
        self.broker = PaperBroker(folder / "paper.db")
        self.n = 0

    def engine(self, later: timedelta = timedelta(0), settings: Settings = PARKS) -> Engine:
        self.n += 1
        clock = FixedClock(TRADING_DAY + later)
        return make_engine_for(self.store, self.broker, clock, settings,
                               ids=SequentialIdFactory(f"e{self.n}-"))  # fmt: skip

    def parked(self, settings: Settings = PARKS) -> RunRecord:
        run = self.engine(settings=settings).run(RunRequest(account_id="paper"))
        assert (run.state, run.status.value) == ("awaiting_approval", "active")
        return run

    def events(self, run: RunRecord) -> list[tuple[str, bool]]:
        return [(e.event, e.accepted) for e in self.store.ledger(run.run_id)]


@pytest.fixture
def desk(migrated_url: str, tmp_path: Path) -> Desk:
    return Desk(migrated_url, tmp_path)


def test_a_large_plan_parks_without_a_lease_and_no_worker_takes_it(desk: Desk) -> None:
    run = desk.parked()
    assert run.lease_expires_at == run.updated_at  # released when it parked: nobody drives it
    assert run.deadline_at == run.updated_at + timedelta(seconds=3600)
    assert desk.broker.orders() == []
    later = desk.engine(timedelta(minutes=5))
    assert later.claim() is None
    assert later.resumable() == []
    with pytest.raises(RunNotResumable, match="waits for approval"):
        later.resume(run.run_id)
    *decided, deadline = desk.store.ledger(run.run_id)[-1].guards
    assert (decided[-1].name, decided[-1].passed) == ("approval_needed", True)
    assert deadline.inputs == {"deadline_at": utc_text(run.deadline_at)}  # committed by the chain


def test_approval_by_another_person_executes_the_plan(desk: Desk) -> None:
    run = desk.parked()
    done = desk.engine(timedelta(minutes=5)).approve(run.run_id, actor="ops-bob",
                                                    reason="checked the plan")  # fmt: skip
    assert done.state == "done"
    assert desk.events(run)[-3:] == [("approval_required", True), ("approved", True),
                                     ("execution_completed", True)]  # fmt: skip
    approved = desk.store.ledger(run.run_id)[-2]
    assert approved.actor == "ops-bob"
    assert {g.name for g in approved.guards} == {
        "operator_named",
        "four_eyes",
        "approval_signed",
        "max_orders",  # the plan's risk limits again, against the policy in force now
        "order_notional_limit",
        "total_notional_limit",
        "order_qty_limit",
        "symbols_allowed",
        "prices_fresh",
        "daily_limits",
        "market_open",
        "deadline",
    }  # a fresh deadline, committed
    named = next(g for g in approved.guards if g.name == "operator_named")
    assert named.inputs["reason"] == "checked the plan"  # why, committed by the chain
    assert len(desk.broker.orders()) > 0
    assert not broken_links(desk.store.ledger(run.run_id))


FULLWIDTH = "ｔｒａｄｅｒ-ａｎｎ"  # NFKC: trader-ann


@pytest.mark.parametrize("name", ["trader-ann", "Trader-ANN", " trader-ann ", FULLWIDTH])
def test_the_requester_cannot_approve_their_own_plan(desk: Desk, name: str) -> None:
    run = desk.parked()
    assert desk.store.ledger(run.run_id)[0].actor == "trader-ann"
    with pytest.raises(GuardRejected, match="four_eyes"):
        desk.engine().approve(run.run_id, actor=name, reason="looks fine to me")
    assert desk.events(run)[-1] == ("approved", False)
    assert desk.store.get_run(run.run_id).state == "awaiting_approval"
    assert desk.broker.orders() == []


def test_an_approval_on_stale_prices_is_refused(desk: Desk) -> None:
    waits = PARKS.model_copy(update={"approval_timeout_seconds": None})
    run = desk.parked(waits)
    assert run.deadline_at is None  # no approval deadline: it waits until decided
    with pytest.raises(GuardRejected, match="prices_fresh"):
        desk.engine(timedelta(days=6), waits).approve(run.run_id, actor="ops-bob", reason="late")
    assert desk.store.get_run(run.run_id).state == "awaiting_approval"
    assert desk.broker.orders() == []


def test_a_rejection_fails_the_run_with_who_and_why(desk: Desk) -> None:
    run = desk.parked()
    rejected = desk.engine().reject(run.run_id, actor="risk-carol", reason="too large today")
    assert (rejected.state, rejected.failure["error_type"]) == ("failed", "Rejected")
    assert rejected.failure["message"] == "too large today"
    assert desk.store.ledger(run.run_id)[-1].actor == "risk-carol"


def test_an_unanswered_approval_expires_even_after_downtime(desk: Desk) -> None:
    run = desk.parked()
    assert desk.engine(timedelta(minutes=59)).expire_approvals() == []
    [expired] = desk.engine(timedelta(hours=2)).expire_approvals()
    assert (expired.run_id, expired.state) == (run.run_id, "failed")
    assert expired.failure["error_type"] == "ApprovalExpired"
    second = desk.parked()
    late = desk.engine(timedelta(hours=2)).approve(second.run_id, actor="ops-bob", reason="late")
    assert (late.state, late.failure["error_type"]) == ("failed", "ApprovalExpired")
    assert desk.broker.orders() == []


def test_a_small_plan_does_not_wait(desk: Desk) -> None:
    run = desk.engine(settings=Settings(approval_notional=Decimal(10**9))).run(
        RunRequest(account_id="paper")
    )
    assert run.state == "done"
    approved = next(e for e in desk.store.ledger(run.run_id) if e.event == "plan_approved")
    assert any(g.name == "approval_not_needed" and g.passed for g in approved.guards)
