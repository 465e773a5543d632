"""``fsm.metrics.MetricsSource`` on SQL: the run database aggregated at scrape time.

Counting is left to the database (GROUP BY; histogram buckets as conditional sums), so a scrape
moves a few hundred numbers, not rows. Time in state pairs each accepted ledger row with the
run's previous accepted row (a window function), as the console's time-in-state page does.

A finished run never changes (its ledger is append-only and final), so the totals of the runs
created before the oldest unfinished one are read once and kept (``FROZEN_MARGIN`` behind the
clock at most); each scrape reads the younger runs through the runs' ``created_at`` index and
the ledger's key, plus what may still change of old runs (order intents, refusals, digests).
A scrape therefore costs the recent history, not the whole of it, after the first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, false, func, literal, select

from fsm.audit import refused_guards
from fsm.clock import Clock, SystemClock
from fsm.kinds import RunStatus
from fsm.metrics import RUN_MS, STATE_SECONDS, Histogram, MetricsSnapshot
from persistence.errors import translate_errors
from persistence.tables import digests, ledger, order_intents, runs

# A run row committed later than this after its created_at (clock skew between hosts) would
# be missed by totals already kept; an hour is far beyond any skew a lease tolerates.
FROZEN_MARGIN = timedelta(hours=1)
FINAL = (RunStatus.DONE.value, RunStatus.FAILED.value)
UNFINISHED = tuple(s.value for s in RunStatus if s.value not in FINAL)  # few rows: the index


class SqlMetrics:
    """``MetricsSource`` on SQLite or PostgreSQL (reads only; safe across threads)."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine, self.clock = engine, clock or SystemClock()
        self._postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._kept: MetricsSnapshot | None = None  # totals of the runs created before ...
        self._kept_until: datetime | None = None  # ... this time, all of them finished

    def snapshot(self) -> MetricsSnapshot:
        with self._lock, translate_errors(), self.engine.connect() as conn:
            frontier = self._frontier(conn)
            if self._kept_until is None or frontier > self._kept_until:
                grown = self._totals(conn, self._kept_until, frontier)
                self._kept = grown if self._kept is None else self._kept.plus(grown)
                self._kept_until = frontier
            assert self._kept is not None
            live = MetricsSnapshot(
                runs={}, transitions={}, refusals=_refusals(conn), time_in_state={},
                run_duration_ms=_empty(RUN_MS),
                orders=_by_key(conn, _counts(order_intents.c.status)),  # a finished run's
                newest_digest_at=_newest_digest(conn),  # intents may still be reconciled
            )  # fmt: skip
            return self._kept.plus(self._totals(conn, self._kept_until, None)).plus(live)

    def _frontier(self, conn: Connection) -> datetime:
        """Every run created before this time is finished (and ``FROZEN_MARGIN`` old)."""
        oldest = conn.execute(
            select(func.min(runs.c.created_at)).where(runs.c.status.in_(UNFINISHED))
        ).scalar_one_or_none()
        bound = self.clock.now() - FROZEN_MARGIN
        return bound if oldest is None else min(oldest, bound)

    def _totals(self, conn: Connection, since: datetime | None,
                before: datetime | None) -> MetricsSnapshot:  # fmt: skip
        """Runs, transitions, time in state and durations of the runs created in a window."""
        window = [runs.c.created_at >= since] if since is not None else []
        window += [runs.c.created_at < before] if before is not None else []
        of_runs = ledger.c.run_id.in_(select(runs.c.run_id).where(*window)) if window else None
        in_window = [] if of_runs is None else [of_runs]
        transitions = _counts(ledger.c.event).where(ledger.c.accepted, *in_window)
        return MetricsSnapshot(
            # grouped by expressions, not columns: the created_at index finds the window
            # rather than a whole scan of the state index for its order
            runs=_by_key(conn, _counts(runs.c.state + "", runs.c.status + "").where(*window)),
            transitions=_by_key(conn, transitions),
            refusals={},
            time_in_state=self._time_in_state(conn, in_window),
            run_duration_ms=self._run_durations(conn, window),
            orders={},
        )

    def _seconds(self, later: Any, earlier: Any) -> Any:
        """Seconds between two timestamps, to the millisecond (SQLite's julianday is a
        float: rounding keeps a value on a bucket's bound on it)."""
        if self._postgres:
            return func.extract("epoch", later - earlier)
        return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)

    def _time_in_state(self, conn: Connection, where: list[Any]) -> dict[str, Histogram]:
        by_run = {"partition_by": ledger.c.run_id, "order_by": ledger.c.seq}
        entered_at = func.lag(ledger.c.occurred_at).over(**by_run)  # type: ignore[arg-type]  # one dict, two keyword types
        rows = (
            select(ledger.c.source,
                   func.lag(ledger.c.target).over(**by_run).label("entered"),  # type: ignore[arg-type]
                   self._seconds(ledger.c.occurred_at, entered_at).label("seconds"))
            .where(ledger.c.accepted, *where)
            .subquery()
        )  # fmt: skip
        stmt = _histogram_select(rows.c.seconds, STATE_SECONDS, rows.c.source).where(
            rows.c.entered == rows.c.source
        )
        return {row[0]: _histogram(row[1:], STATE_SECONDS) for row in conn.execute(stmt)}

    def _run_durations(self, conn: Connection, window: list[Any]) -> Histogram:
        ms = self._seconds(runs.c.updated_at, runs.c.created_at) * 1000
        finished = (  # the status in the value, not the filter: the window's index is used
            select(case((runs.c.status.in_(FINAL), ms)).label("ms")).where(*window).subquery()
        )
        return _histogram(conn.execute(_histogram_select(finished.c.ms, RUN_MS)).one(), RUN_MS)


def _counts(*keys: Any) -> Any:
    return select(*keys, func.count()).group_by(*keys)


def _histogram_select(value: Any, bounds: Sequence[float], *keys: Any) -> Any:
    counts = [func.coalesce(func.sum(case((value <= b, 1), else_=0)), 0) for b in bounds]
    total = func.coalesce(func.sum(value), literal(0.0))
    stmt = select(*keys, *counts, func.count(value), total)
    return stmt.group_by(*keys) if keys else stmt


def _histogram(row: Sequence[Any], bounds: Sequence[float]) -> Histogram:
    n = len(bounds)
    return Histogram(bounds, [int(c) for c in row[:n]], int(row[n]), float(row[n + 1]))


def _empty(bounds: Sequence[float]) -> Histogram:
    return Histogram(bounds, [0] * len(bounds), 0, 0.0)


def _by_key(conn: Connection, stmt: Any) -> dict[Any, int]:
    """``key -> count`` of a grouped count (a tuple key when grouped by several columns)."""
    rows = conn.execute(stmt).all()
    return {(row[0] if len(row) == 2 else tuple(row[:-1])): int(row[-1]) for row in rows}


def _refusals(conn: Connection) -> dict[tuple[str, str], int]:
    """Refused rows by event and guard, through the ledger's partial index of refusals."""
    found: dict[tuple[str, str], int] = {}
    stmt = select(ledger.c.event, ledger.c.guards).where(ledger.c.accepted == false())
    for event, guards in conn.execute(stmt):
        for guard in refused_guards(guards):
            found[event, guard] = found.get((event, guard), 0) + 1
    return found


def _newest_digest(conn: Connection) -> datetime | None:
    at = conn.execute(select(digests.c.created_at).order_by(digests.c.n.desc()).limit(1))
    newest: datetime | None = at.scalar_one_or_none()
    return newest
