"""Dates for tests that drive the real CLI, whose clock is the wall clock moved into market
hours (tests/clock_shift: a session of the exchange, half an hour after its open).

A test that writes a price file must date it from today, or the freshness guards refuse it once
the written dates are a few days old. `tests/test_any_day.py` runs the tests marked `dated`
with the clock moved a year ahead to prove it.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from fsm.calendar import DEFAULT_EXCHANGE, calendar_for
from tests.clock_shift.sitecustomize import SHIFT

AFTER_OPEN = timedelta(minutes=30)


def market_hours_shift(wall: datetime) -> timedelta:
    """How far the clock moves: from ``wall`` to half an hour after the open of the last
    session on or before its day (hours before any close, early ones included)."""
    session = calendar_for(DEFAULT_EXCHANGE).last_on_or_before(wall.date())
    return session.open + AFTER_OPEN - wall


def now() -> datetime:
    """The time the CLI's clock reads (tests/conftest.py sets the shift for the session)."""
    return datetime.now(UTC) + timedelta(seconds=float(os.environ.get(SHIFT, "0")))


def today() -> date:
    """Today in UTC by the CLI's clock, the day a run's `as_of` defaults to."""
    return now().date()


def day(offset: int = 0) -> str:
    """Today plus `offset` days, as the ISO text a price file or `--as-of` takes."""
    return (today() + timedelta(days=offset)).isoformat()
