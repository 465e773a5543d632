"""The exchange calendar: which days are sessions, when each opens and closes.

Sessions come from exchange-calendars (the maintained successor of Quantopian's
trading_calendars, which pandas-market-calendars itself builds on): one calendar per exchange,
holidays, early closes and breaks included. Importing it costs about 0.4 s (pandas), so it is
imported only when a year's sessions are first needed, and each year's sessions are then kept
in a small file under the user's cache folder, named by the exchange, the library's version
and the year: a later process reads that file in a millisecond.
"""

from __future__ import annotations

import json
import os
import warnings
from bisect import bisect_left, bisect_right
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from fsm.errors import InvalidConfiguration, InvalidInput

DEFAULT_EXCHANGE = "XNYS"  # the New York Stock Exchange
FIRST_YEAR, LAST_YEAR = 1990, 2200
ONE_DAY = timedelta(days=1)  # sessions outside these years are not asked for


class _NamesAnExchange(Protocol):
    @property
    def exchange(self) -> str: ...


def exchange_of(policy: _NamesAnExchange) -> str:
    """The exchange whose calendar a run trades on: the ``exchange`` key of its risk policy
    (``fsm.policy``), which TRADEFSM_EXCHANGE may only repeat (``fsm.limits``)."""
    return policy.exchange


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day of an exchange, its times in UTC (``early``: closes before its usual
    time; ``breaks``: a lunch break, as on some Asian exchanges)."""

    day: date
    open: datetime
    close: datetime
    early: bool = False
    break_start: datetime | None = None
    break_end: datetime | None = None

    def is_open_at(self, moment: datetime) -> bool:
        if not self.open <= moment < self.close:
            return False
        in_break = self.break_start is not None and self.break_end is not None
        return not (in_break and self.break_start <= moment < self.break_end)  # type: ignore[operator]


class MarketCalendar:
    """The sessions of one exchange, read a year at a time; answers are exact for every day
    the exchange's calendar knows (holidays, early closes)."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange

    def year(self, year: int) -> tuple[Session, ...]:
        return _year_sessions(self.exchange, year)

    def sessions(self, first: date, last: date) -> list[Session]:
        """The sessions from ``first`` to ``last``, both included."""
        found: list[Session] = []
        for year in range(max(first.year, FIRST_YEAR), min(last.year, LAST_YEAR) + 1):
            days = _year_days(self.exchange, year)
            found += self.year(year)[bisect_left(days, first) : bisect_right(days, last)]
        return found

    def session(self, day: date) -> Session | None:
        days = _year_days(self.exchange, day.year)
        i = bisect_left(days, day)
        return self.year(day.year)[i] if i < len(days) and days[i] == day else None

    def is_session(self, day: date) -> bool:
        return self.session(day) is not None

    def last_on_or_before(self, day: date) -> Session:
        for year in range(min(day.year, LAST_YEAR), FIRST_YEAR - 1, -1):
            i = bisect_right(_year_days(self.exchange, year), day)
            if i:
                return self.year(year)[i - 1]
        raise InvalidInput(f"{self.exchange} has no session on or before {day}")

    def next_open(self, moment: datetime) -> Session:
        """The first session that opens after ``moment``."""
        for year in range(max(moment.year, FIRST_YEAR), LAST_YEAR + 1):
            later = [s for s in self.year(year) if s.open > moment]
            if later:
                return later[0]
        raise InvalidInput(f"{self.exchange} has no session after {moment}")

    def open_session(self, moment: datetime) -> Session | None:
        """The session the exchange is open for at ``moment``, if it is open (a session's
        UTC open may fall on the day before its date, as in Sydney)."""
        day = moment.astimezone(UTC).date()
        for near in (day, day + ONE_DAY, day - ONE_DAY):
            session = self.session(near)
            if session is not None and session.is_open_at(moment):
                return session
        return None

    def sessions_after(self, older: date, newer: date) -> int:
        """Sessions after ``older`` up to and including ``newer`` (negative when reversed)."""
        if newer < older:
            return -self.sessions_after(newer, older)
        count = 0
        for year in range(max(older.year, FIRST_YEAR), min(newer.year, LAST_YEAR) + 1):
            days = _year_days(self.exchange, year)
            count += bisect_right(days, newer) - bisect_right(days, older)
        return count


@cache
def calendar_for(exchange: str) -> MarketCalendar:
    return MarketCalendar(exchange)


@cache
def _year_days(exchange: str, year: int) -> tuple[date, ...]:
    return tuple(s.day for s in _year_sessions(exchange, year))


def check_years(first: date, last: date) -> None:
    """A range of days the calendar can answer for, else one line (InvalidInput)."""
    if first.year < FIRST_YEAR or last.year > LAST_YEAR:
        raise InvalidInput(f"the calendar covers the years {FIRST_YEAR} to {LAST_YEAR}")


@cache
def _year_sessions(exchange: str, year: int) -> tuple[Session, ...]:
    """The sessions of one year; none outside FIRST_YEAR..LAST_YEAR (a guard then refuses a
    day there as no session, or counts its prices as older than any limit)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return ()
    path = _cache_file(exchange, year)
    rows = _read_cache(path) if path else None
    if rows is None:
        rows = _build(exchange, year)
        if path:
            _write_cache(path, rows)
    return tuple(_session(row) for row in rows)


def _build(exchange: str, year: int) -> list[list[Any]]:
    """One year of sessions, from exchange-calendars (imported here, not at start-up); its
    deprecation notices about pandas are not the user's to read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _schedule(exchange, year)


def _schedule(exchange: str, year: int) -> list[list[Any]]:
    import exchange_calendars as xcals  # noqa: PLC0415  # 0.4 s: only when a year is missing

    try:
        cal = xcals.get_calendar(exchange, start=f"{year}-01-01", end=f"{year}-12-31")
    except xcals.errors.InvalidCalendarName:
        raise InvalidConfiguration(
            f"unknown exchange {exchange!r}: use an ISO 10383 code of "
            "exchange-calendars, e.g. XNYS, XLON, XTKS"
        ) from None
    early = {ts.date() for ts in cal.early_closes}
    rows = []
    for day, row in cal.schedule.iterrows():
        texts = [t.isoformat() for t in (row["open"], row["close"], row["break_start"],
                                          row["break_end"])]  # fmt: skip
        times = [None if text == "NaT" else text for text in texts]  # NaT: no break that day
        rows.append([day.date().isoformat(), *times[:2], day.date() in early, *times[2:]])
    return rows


def _session(row: list[Any]) -> Session:
    day, opens, closes, early, break_start, break_end = row
    return Session(date.fromisoformat(day), datetime.fromisoformat(opens),
                   datetime.fromisoformat(closes), bool(early),
                   break_start and datetime.fromisoformat(break_start),
                   break_end and datetime.fromisoformat(break_end))  # fmt: skip


def _cache_file(exchange: str, year: int) -> Path | None:
    """Where a year's sessions are kept, per version of the calendar library (a new release
    may add a holiday); None when there is no cache folder."""
    try:
        version = metadata.version("exchange-calendars")
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except (metadata.PackageNotFoundError, RuntimeError):
        return None
    name = "".join(c if c.isalnum() else "_" for c in exchange)
    return root / "tradefsm" / "sessions" / f"{name}-{version}-{year}.json"


def _read_cache(path: Path) -> list[list[Any]] | None:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rows if isinstance(rows, list) else None


def _write_cache(path: Path, rows: list[list[Any]]) -> None:
    """Written whole, then renamed: a reader never sees half a file. A cache that cannot be
    written only costs the next process the calendar's import."""
    part = path.with_suffix(f".{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(json.dumps(rows), encoding="utf-8")
        part.replace(path)
    except OSError:
        with suppress(OSError):
            part.unlink(missing_ok=True)
