"""`audit time-in-state` on SQL: each run's stays in its states, ended and still going."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from fsm.audit import StateTiming, Stay, timings
from persistence.errors import translate_errors
from persistence.runfilter import between
from persistence.tables import ledger, runs


def time_in_state(engine: Engine, since: datetime | None, until: datetime | None,
                  now: datetime) -> list[StateTiming]:  # fmt: skip
    from fsm.definition import trading_definition  # noqa: PLC0415  # the chart, when asked

    with translate_errors(), engine.connect() as conn:
        stays = [*_ended(conn, since, until), *_going(conn, since, until, now)]
    return timings(stays, trading_definition().states)


def _ended(conn: Connection, since: datetime | None, until: datetime | None) -> Iterator[Stay]:
    """Stays whose entry and exit both fall in the window (accepted rows, in ledger order)."""
    windowed = since is not None or until is not None
    # With a window, the ordering is of expressions, not of the key's columns: SQLite then
    # reads the window through the occurred_at index and sorts it, rather than walking the
    # whole ledger in key order to skip the sort (1.4 s instead of 40 ms for a day of 1M rows).
    order = (ledger.c.run_id.concat(""), ledger.c.seq + 0) if windowed \
        else (ledger.c.run_id, ledger.c.seq)  # fmt: skip
    stmt = (
        select(ledger.c.run_id, ledger.c.source, ledger.c.target, ledger.c.occurred_at)
        .where(ledger.c.accepted.is_(True), *between(ledger.c.occurred_at, since, until))
        .order_by(*order)
    )
    entered: dict[str, tuple[str, datetime]] = {}
    for run_id, source, target, at in conn.execute(stmt):
        before = entered.get(run_id)
        if before and before[0] == source:
            yield source, run_id, (at - before[1]).total_seconds() * 1000, False
        entered[run_id] = (target, at)


def _going(conn: Connection, since: datetime | None, until: datetime | None,
           now: datetime) -> Iterator[Stay]:  # fmt: skip
    """The stays of active runs (parked, driven or stuck) that entered their state in the
    window: up to ``now`` (the status index, then each run's own ledger rows)."""
    entered = (
        select(func.max(ledger.c.occurred_at))
        .where(ledger.c.run_id == runs.c.run_id)
        .where(ledger.c.accepted.is_(True), ledger.c.target == runs.c.state)
        .scalar_subquery()
    )
    stmt = select(runs.c.run_id, runs.c.state, entered).where(runs.c.status == "active")
    for run_id, state, at in conn.execute(stmt):
        if at is not None and (since is None or at >= since) and (until is None or at < until):
            yield state, run_id, max((now - at).total_seconds() * 1000, 0.0), True
