"""Limits that span runs, on SQLite and PostgreSQL: an account's notional and orders per day,
counted again in the transaction that commits a plan, so racing runs cannot both pass."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.dailytotals import DailyCheck, DailyUsage
from fsm.errors import RunAlreadyActive
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunFilter
from fsm.records import RunRecord
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.integration.test_risk_policy import Desk

SENT = TRADING_SPECS.sent_plans
assert SENT is not None

PLAN = Decimal("99000.00")  # the demo plan on a fresh paper account: 8 orders


@pytest.fixture
def desk(migrated_url: str, tmp_path: Path) -> Desk:
    desk = Desk(migrated_url, tmp_path)
    desk.set("risk-bob", daily_max_notional=PLAN * 3 / 2)  # one plan a day, not two
    return desk


def _sent(desk: Desk, account: str) -> list[RunRecord]:
    """The account's runs whose plan entered executing."""
    runs = desk.store.list_runs(RunFilter(account_id=account))
    return [r for r in runs if any(e.target == "executing" for e in desk.store.ledger(r.run_id))]


def test_the_second_plan_of_the_day_is_refused_with_the_running_totals(desk: Desk) -> None:
    first = desk.engine().run(RunRequest(account_id="acct"))
    second = desk.engine().run(RunRequest(account_id="acct"))
    assert (first.state, second.state) == ("done", "failed")
    inputs = desk.guard(second, "daily_limits")
    assert (inputs["sent_notional"], inputs["plan_notional"]) == (str(PLAN), str(PLAN))
    assert inputs["limit_notional"] == str(PLAN * 3 / 2)
    assert inputs["source_notional"] == "policy v2"
    other = desk.engine().run(RunRequest(account_id="other"))  # per account
    assert other.state == "done"


def test_racing_runs_of_one_account_cannot_exceed_the_daily_notional(desk: Desk) -> None:
    start = threading.Barrier(4)
    ended: list[str] = []

    def race() -> None:
        engine = desk.engine()
        start.wait(timeout=60)
        try:
            ended.append(engine.run(RunRequest(account_id="acct")).state)
        except RunAlreadyActive:
            ended.append("refused: busy")

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(ended) == 4
    assert len(_sent(desk, "acct")) == 1
    assert ended.count("done") == 1


class StaleTotals(SqlRunStore):
    """The real store whose first read of the day's totals is as it was before another run's
    plan committed: the read a racing run made just before the other's commit."""

    stale = True

    def daily_usage(self, check: DailyCheck) -> DailyUsage:
        if self.stale:
            self.stale = False
            return DailyUsage()
        return super().daily_usage(check)


def test_a_commit_on_totals_that_moved_changes_nothing_and_the_guards_run_again(
    desk: Desk,
) -> None:
    first = desk.engine().run(RunRequest(account_id="acct"))
    assert first.state == "done"
    check = DailyCheck("acct", TRADING_DAY.date(), DailyUsage(), SENT)
    assert desk.store.daily_usage(check) == DailyUsage(PLAN, 8)
    stale = StaleTotals(make_engine(desk.url))
    desk.store = stale
    second = desk.engine().run(RunRequest(account_id="acct"))
    assert not stale.stale  # it read the stale totals, its commit was refused, it read again
    assert second.state == "failed"
    assert desk.guard(second, "daily_limits")["sent_notional"] == str(PLAN)
    refused = [e for e in stale.ledger(second.run_id) if e.event == "plan_approved"]
    assert [e.accepted for e in refused] == [False]  # only the recounted decision is stored
