"""Dates for tests that drive the real CLI, whose clock is the wall clock.

A test that writes a price file must date it from today, or the freshness guards refuse it once
the written dates are a few days old. `tests/test_any_day.py` runs the tests marked `dated`
with the clock moved a year ahead to prove it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def today() -> date:
    """Today in UTC, the calendar the CLI's clock uses for a run's `as_of`."""
    return datetime.now(UTC).date()


def day(offset: int = 0) -> str:
    """Today plus `offset` days, as the ISO text a price file or `--as-of` takes."""
    return (today() + timedelta(days=offset)).isoformat()
