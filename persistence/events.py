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
    select,
    text,
    tuple_,
)

from fsm.eventlog import CommittedRow, EventQuery, Position
from persistence.dialects import upsert
from persistence.errors import translate_errors
from persistence.mapping import ledger_entry
from persistence.tables import ENTRY_COLUMNS, TXID, event_cursors, ledger, runs

_previous = ledger.alias("previous")
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

    def cursor(self, subscriber: str) -> Position | None:
        c = event_cursors.c
        stmt = select(c.position, c.run_id, c.seq).where(c.subscriber == subscriber)
        with translate_errors(), self.engine.connect() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else Position(int(row.position), row.run_id, row.seq)

    def advance(self, subscriber: str, position: Position, now: datetime) -> None:
        c = event_cursors.c
        values = {"position": position.major, "run_id": position.run_id,
                  "seq": position.seq, "updated_at": now}  # fmt: skip
        stmt = upsert(self.engine.dialect, event_cursors).values(subscriber=subscriber, **values)
        behind = tuple_(c.position, c.run_id, c.seq) < tuple_(
            stmt.excluded.position, stmt.excluded.run_id, stmt.excluded.seq
        )
        stmt = stmt.on_conflict_do_update(index_elements=[c.subscriber], set_=values, where=behind)
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(stmt)

    def _select(self) -> Select[Any]:
        stmt = (
            select(
                self._major.label("major"), *ENTRY_COLUMNS, runs.c.account_id,
                _previous.c.process.label("previous_process"),
                _previous.c.event.label("previous_event"),
            )
            .join(runs, runs.c.run_id == ledger.c.run_id)
            .outerjoin(_previous, and_(_previous.c.run_id == ledger.c.run_id,
                                       _previous.c.seq == ledger.c.seq - 1))
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


def _committed(row: Any) -> CommittedRow:
    entry = ledger_entry({c.name: row[c.name] for c in ENTRY_COLUMNS})
    return CommittedRow(
        position=Position(int(row["major"]), entry.run_id, entry.seq),
        entry=entry,
        account_id=row["account_id"],
        previous_process=row["previous_process"],
        previous_event=row["previous_event"],
    )
