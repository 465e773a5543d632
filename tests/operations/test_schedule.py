"""`submit --trading-day auto`: one run per account and trading day, whatever the number of
triggers; a day without a session is a recorded run cancelled at once, not an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.calendar import DEFAULT_EXCHANGE, calendar_for
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from fsm.schedule import day_key, submit_for_trading_day, trading_day
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import make_engine_for

CALENDAR = calendar_for(DEFAULT_EXCHANGE)


def _session_moment() -> datetime:
    """An hour after the open of the newest session before today (any day the tests run)."""
    session = CALENDAR.last_on_or_before(datetime.now(UTC).date() - timedelta(days=1))
    return session.open + timedelta(hours=1)


def _weekend_moment() -> datetime:
    day = datetime.now(UTC).date() - timedelta(days=1)
    while CALENDAR.is_session(day):
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 15, tzinfo=UTC)


def _engine(migrated_url: str, tmp_path: Path, moment: datetime) -> Engine:
    store = SqlRunStore(make_engine(migrated_url))
    return make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(moment))


def test_a_session_day_queues_one_run_however_often_the_schedule_fires(
    migrated_url: str, tmp_path: Path
) -> None:
    moment = _session_moment()
    engine = _engine(migrated_url, tmp_path, moment)
    first = submit_for_trading_day(engine, RunRequest(account_id="acct-a"), CALENDAR, "cron")
    again = submit_for_trading_day(engine, RunRequest(account_id="acct-a"), CALENDAR, "cron")
    assert first.session
    assert again.session
    assert again.run.run_id == first.run.run_id
    assert (first.day, first.run.as_of, first.run.status) == (
        moment.date(),
        moment.date(),
        "queued",
    )
    assert first.run.idempotency_key == day_key("acct-a", moment.date())
    assert len(engine.store.list_runs(RunFilter(account_id="acct-a"))) == 1


def test_a_day_without_a_session_is_a_recorded_run_that_ends_at_once_saying_so(
    migrated_url: str, tmp_path: Path
) -> None:
    engine = _engine(migrated_url, tmp_path, _weekend_moment())
    done = submit_for_trading_day(engine, RunRequest(account_id="acct-b"), CALENDAR, "cron-ops")
    assert not done.session
    assert (done.run.state, done.run.status) == ("failed", "failed")
    last = engine.store.ledger(done.run.run_id)[-1]
    assert (last.event, last.actor) == ("cancel", "cron-ops")
    assert f"no {DEFAULT_EXCHANGE} session on {done.day}" in (last.error_message or "")
    again = submit_for_trading_day(engine, RunRequest(account_id="acct-b"), CALENDAR, "cron-ops")
    assert again.run.run_id == done.run.run_id  # a second trigger: the same record, no new run
    assert len(engine.store.list_runs(RunFilter(account_id="acct-b"))) == 1


@pytest.mark.parametrize("hours", [-20, 0, 3])
def test_the_trading_day_is_the_session_open_at_the_moment(hours: int) -> None:
    session = CALENDAR.last_on_or_before(datetime.now(UTC).date() - timedelta(days=1))
    moment = session.open + timedelta(hours=hours)
    assert trading_day(CALENDAR, moment) == moment.date()
    sydney = calendar_for("XASX")
    s = sydney.last_on_or_before(datetime.now(UTC).date() - timedelta(days=1))
    assert trading_day(sydney, s.open + timedelta(minutes=5)) == s.day  # opens the day before (UTC)
