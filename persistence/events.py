"""The event log (``fsm.eventlog.EventLog``) on the run database: ledger rows in one global
order, and the subscribers' cursors (``event_cursors``).

SQLite: the ledger's rowid. Writers take turns (``BEGIN IMMEDIATE``) and no row is ever
deleted, so a later commit always has a larger rowid.
PostgreSQL: ``ledger.txid``, the writing transaction's id, set by the database. Ids are taken
when a transaction first writes, and commits may become visible out of id order, so a read
returns only rows of transactions older than the oldest one still open
(``pg_snapshot_xmin``): every transaction that could still commit a row has a larger id than
every row returned. A transaction left open anywhere in the database delays events until it
ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Select,
    and_,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)

from fsm.eventlog import CommittedRow, EventQuery, Position, Subscription
from fsm.machines.names import TradingState as S
from persistence.dialects import upsert
from persistence.errors import translate_errors
from persistence.mapping import ledger_entry
from persistence.tables import ENTRY_COLUMNS, TXID, checkpoints, event_cursors, ledger, runs

_previous = ledger.alias("previous")
EXECUTING = S.EXECUTING.value  # a row's checkpoint of it holds the orders' final statuses
# The oldest transaction still open, as the statement's snapshot sees it.
_PG_HORIZON = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


class SqlEventLog:
    """``EventLog`` on SQLite or PostgreSQL (read-only use needs no write access)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = engine.dialect.name == "postgresql"
        self._major: ColumnElement[Any] = (
            ledger.c[TXID] if postgres else literal_column("ledger.rowid", BigInteger)
        )
        self._postgres = postgres

    def rows(self, query: EventQuery) -> list[CommittedRow]:
        stmt = self._select().limit(query.limit)
        if query.after is not None:
            stmt = stmt.where(self._after(query.after))
        if query.run_id is not None:
            stmt = stmt.where(ledger.c.run_id == query.run_id)
        if query.since is not None:
            stmt = stmt.where(ledger.c.occurred_at >= query.since)
        with translate_errors(), self.engine.connect() as conn:
            found = conn.execute(stmt).mappings().all()
        return [_committed(row) for row in found]

    def position_of(self, run_id: str, seq: int) -> Position | None:
        stmt = select(self._major.label("major")).where(
            ledger.c.run_id == run_id, ledger.c.seq == seq
        )
        with translate_errors(), self.engine.connect() as conn:
            major = conn.execute(stmt).scalar_one_or_none()
        return None if major is None else Position(int(major), run_id, seq)

    def subscription(self, subscriber: str) -> Subscription:
        stmt = select(event_cursors).where(event_cursors.c.subscriber == subscriber)
        with translate_errors(), self.engine.connect() as conn:
            row = conn.execute(stmt).one_or_none()
        if row is None:
            return Subscription()
        at = None if row.position is None else Position(int(row.position), row.run_id, row.seq)
        return Subscription(at, row.attempts, row.retry_at, row.last_error, row.dead,
                            row.alerts_through)  # fmt: skip

    def advance(self, subscriber: str, position: Position, now: datetime) -> None:
        c = event_cursors.c
        behind = or_(c.position.is_(None), tuple_(c.position, c.run_id, c.seq) < tuple_(
            position.major, position.run_id, position.seq))  # fmt: skip
        self._set(subscriber, {**_at(position), **_CLEAR, "updated_at": now}, behind)

    def failed(self, subscriber: str, failure: Subscription, now: datetime) -> None:
        self._set(subscriber, {
            "attempts": failure.attempts, "retry_at": failure.retry_at,
            "last_error": failure.last_error, "dead": failure.dead, "updated_at": now,
        })  # fmt: skip

    def alerted(self, subscriber: str, through: datetime, now: datetime) -> None:
        self._set(subscriber, {"alerts_through": through, "updated_at": now})

    def rewind(self, subscriber: str, position: Position | None, now: datetime) -> None:
        self._set(subscriber, {**_at(position), **_CLEAR, "updated_at": now})

    def _set(
        self, subscriber: str, values: dict[str, Any], where: ColumnElement[bool] | None = None
    ) -> None:
        """Insert the subscriber's row with ``values`` or update it (where ``where`` holds)."""
        first = {**_at(None), **_CLEAR, **values}
        stmt = upsert(self.engine.dialect, event_cursors).values(subscriber=subscriber, **first)
        stmt = stmt.on_conflict_do_update(
            index_elements=[event_cursors.c.subscriber], set_=values, where=where
        )
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(stmt)

    def _select(self) -> Select[Any]:
        stmt = (
            select(
                self._major.label("major"), *ENTRY_COLUMNS, runs.c.account_id,
                _previous.c.process.label("previous_process"),
                _previous.c.event.label("previous_event"),
                checkpoints.c.output.label("execution"),
            )
            .join(runs, runs.c.run_id == ledger.c.run_id)
            .outerjoin(_previous, and_(_previous.c.run_id == ledger.c.run_id,
                                       _previous.c.seq == ledger.c.seq - 1))
            .outerjoin(checkpoints, and_(checkpoints.c.run_id == ledger.c.run_id,
                                         checkpoints.c.seq == ledger.c.seq,
                                         checkpoints.c.state == EXECUTING))
            .order_by(self._major, ledger.c.run_id, ledger.c.seq)
        )  # fmt: skip
        if self._postgres:
            stmt = stmt.where(ledger.c[TXID] < _PG_HORIZON)
        return stmt

    def _after(self, after: Position) -> ColumnElement[bool]:
        if not self._postgres:  # rowids are unique: the rowid alone is the position
            return self._major > after.major
        mine = tuple_(self._major, ledger.c.run_id, ledger.c.seq)
        return mine > tuple_(after.major, after.run_id, after.seq)


_CLEAR = {"attempts": 0, "retry_at": None, "last_error": None, "dead": False}


def _at(position: Position | None) -> dict[str, Any]:
    if position is None:
        return {"position": None, "run_id": None, "seq": None}
    return {"position": position.major, "run_id": position.run_id, "seq": position.seq}


def _committed(row: Any) -> CommittedRow:
    entry = ledger_entry({c.name: row[c.name] for c in ENTRY_COLUMNS})
    return CommittedRow(
        position=Position(int(row["major"]), entry.run_id, entry.seq),
        entry=entry,
        account_id=row["account_id"],
        previous_process=row["previous_process"],
        previous_event=row["previous_event"],
        execution=row["execution"],
    )
