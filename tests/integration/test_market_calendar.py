"""The exchange calendar: orders go out only while the market is open, and only for a session.

On SQLite and PostgreSQL, through the engine as every entry point uses it, with the injected
clock moved to days and hours read from the calendar (never fixed years).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.calendar import calendar_for
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import GuardRejected
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import make_engine_for
from tests.days import today

XNYS = calendar_for("XNYS")
PARKS = Settings(actor="trader-ann", approval_notional=Decimal(1000))


def next_christmas() -> date:
    """The next 25 December on or after today: never an XNYS session."""
    christmas = date(today().year, 12, 25)
    return christmas if christmas >= today() else date(today().year + 1, 12, 25)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def in_session(day: date) -> datetime:
    """Half an hour after the open of ``day``'s session."""
    session = XNYS.session(day)
    assert session is not None, f"{day} is no session"
    return session.open + timedelta(minutes=30)


class Desk:
    """One run database and paper broker; each engine is a new process at its own time."""

    def __init__(self, url: str, folder: Path) -> None:
        self.store = SqlRunStore(make_engine(url))
        self.broker = PaperBroker(folder / "paper.db")
        self.n = 0

    def engine(self, at: datetime, settings: Settings = PARKS) -> Engine:
        self.n += 1
        return make_engine_for(self.store, self.broker, FixedClock(at), settings,
                               ids=SequentialIdFactory(f"e{self.n}-"))  # fmt: skip

    def run(self, at: datetime, as_of: date, settings: Settings = PARKS) -> RunRecord:
        request = RunRequest(account_id="paper", mode=Mode.PAPER, as_of=as_of)
        return self.engine(at, settings).run(request)

    def refusal(self, run: RunRecord) -> tuple[str, str]:
        last = self.store.ledger(run.run_id)
        refused = next(g for e in reversed(last) for g in e.guards if not g.passed)
        return refused.name, refused.reason


@pytest.fixture
def desk(migrated_url: str, tmp_path: Path) -> Desk:
    return Desk(migrated_url, tmp_path)


def test_a_plan_is_not_sent_on_a_holiday_and_the_refusal_names_the_next_open(
    desk: Desk,
) -> None:
    holiday = next_christmas()
    eve = XNYS.last_on_or_before(holiday).day  # a session (24 December closes early)
    at = utc(holiday, 15)
    run = desk.run(at, eve, Settings(actor="trader-ann"))
    assert run.state == "failed"
    name, reason = desk.refusal(run)
    following = XNYS.next_open(at)
    assert name == "market_open"
    assert f"next open {following.open:%Y-%m-%d %H:%M} UTC" in reason
    assert following.day > holiday
    assert desk.broker.orders() == []


def test_a_plan_is_not_sent_at_night_after_a_session(desk: Desk) -> None:
    session = XNYS.last_on_or_before(today() - timedelta(days=1))
    night = session.close + timedelta(hours=2)
    run = desk.run(night, session.day, Settings(actor="trader-ann"))
    name, reason = desk.refusal(run)
    assert (run.state, name) == ("failed", "market_open")
    assert f"next open {XNYS.next_open(night).open:%Y-%m-%d %H:%M} UTC" in reason
    assert desk.broker.orders() == []


def test_an_approval_while_the_market_is_closed_is_refused_and_the_plan_keeps_waiting(
    desk: Desk,
) -> None:
    session = XNYS.last_on_or_before(today())
    run = desk.run(in_session(session.day), session.day)
    assert run.state == "awaiting_approval"
    after_close = session.close + timedelta(minutes=5)
    with pytest.raises(GuardRejected, match="market_open") as refused:
        desk.engine(after_close).approve(run.run_id, actor="ops-bob", reason="checked")
    assert f"next open {XNYS.next_open(after_close).open:%Y-%m-%d %H:%M} UTC" in str(refused.value)
    assert desk.store.get_run(run.run_id).state == "awaiting_approval"
    assert desk.broker.orders() == []
    opens = XNYS.next_open(after_close).open + timedelta(minutes=1)
    done = desk.engine(opens).approve(run.run_id, actor="ops-bob", reason="market open now")
    assert done.state == "done", done.failure
    assert len(desk.broker.orders()) > 0


def test_a_saturday_as_of_is_refused_in_paper_mode_but_a_dry_run_may_look(desk: Desk) -> None:
    saturday = today() - timedelta(days=(today().weekday() - 5) % 7)
    at = in_session(XNYS.next_open(utc(saturday, 12)).day)  # the Monday after, while open
    loose = Settings(actor="trader-ann", stale_after_days=10)
    run = desk.run(at, saturday, loose)
    name, reason = desk.refusal(run)
    assert (run.state, name) == ("failed", "as_of_session")
    assert f"{saturday} (Saturday) is no session of XNYS" in reason
    dry = desk.engine(at, loose).run(
        RunRequest(account_id="paper", mode=Mode.DRY_RUN, as_of=saturday)
    )
    assert dry.state == "done"
    friday = XNYS.last_on_or_before(saturday).day
    assert desk.store.ledger(dry.run_id)[-1].event == "plan_reported"
    [plan] = [c.output for c in desk.store.checkpoints(dry.run_id) if c.state == "planning"]
    assert set(plan["price_dates"].values()) == {friday.isoformat()}  # the last session's
