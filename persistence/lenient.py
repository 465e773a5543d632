"""Stored values read for verification, so that one value that cannot be decoded is named as a
finding for its run rather than stopping the whole verification.

On PostgreSQL a raw cursor decodes JSON and timestamps itself; ``lenient`` registers loaders
on it that give every JSON document as its canonical text (as SQLite stores it: JSON ``null``
is the text ``null``, SQL NULL stays None) and keep what cannot be decoded (a number of more
than 4,300 digits, a document nested too deep, an ``infinity`` timestamp) as ``Unreadable``.
On SQLite the query itself turns each stored time into canonical text (``sqlite_time``), and
marks any text not in the one stored form for the verifier to name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, String, and_, case, func, literal_column, type_coerce

from fsm.canonical import canonical_json, utc_text
from persistence.hotpath import DriverStatement

DECODE_ERRORS = (ValueError, RecursionError, OverflowError, TypeError)
BATCH = 5000
SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")  # the one stored form, UTC
OTHER_TEXT = "!"  # marks stored time text not in that form (canonical text starts with a digit)
_DIGITS = "[0-9]"  # ASCII digits only
_SQLITE_GLOB = (f"'{_DIGITS * 4}-{_DIGITS * 2}-{_DIGITS * 2} {_DIGITS * 2}:{_DIGITS * 2}:"
                f"{_DIGITS * 2}.{_DIGITS * 6}'")  # SQLITE_TIME as a GLOB pattern  # fmt: skip


class Unreadable(str):
    """A stored value that cannot be decoded, as its (shortened) text."""

    __slots__ = ()


def lenient(cursor: Any, dialect: str) -> Any:
    """The cursor, with forgiving JSON and timestamp loaders on PostgreSQL."""
    if dialect == "postgresql":
        json_loader, time_loader = _loaders()
        for name in ("json", "jsonb"):
            cursor.adapters.register_loader(name, json_loader)
        cursor.adapters.register_loader("timestamptz", time_loader)
    return cursor


def _loaders() -> tuple[type, type]:
    from psycopg import DataError  # noqa: PLC0415  # only where PostgreSQL is used
    from psycopg.adapt import Loader  # noqa: PLC0415
    from psycopg.types.datetime import TimestamptzLoader  # noqa: PLC0415

    class CanonicalJson(Loader):
        def load(self, data: Any) -> str:
            text = bytes(data).decode("utf-8")
            try:
                return canonical_json(json.loads(text))
            except DECODE_ERRORS:
                return Unreadable(_short(text))

    class LenientTimestamptz(TimestamptzLoader):
        def load(self, data: Any) -> datetime | str:  # type: ignore[override]
            try:
                return super().load(data)
            except DataError:
                return Unreadable(_short(bytes(data).decode("utf-8")))

    return CanonicalJson, LenientTimestamptz


def canonical_time(value: Any) -> str:
    """The canonical text of a stored timestamp; SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' UTC.

    Raises ValueError for a value that is no timestamp.
    """
    if isinstance(value, datetime):
        return utc_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, Unreadable):
        raise ValueError(value)
    text = str(value)
    if SQLITE_TIME.fullmatch(text):
        return f"{text[:10]}T{text[11:]}Z"
    moment = datetime.fromisoformat(text)  # an offset is honoured, as every reader does
    return utc_text(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def sqlite_time(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A stored time as SQLite itself turns it into canonical text, under the column's name:
    from the one stored form (``SQLITE_TIME``) to ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; text in any
    other form comes back after ``OTHER_TEXT``, any other value as it is stored."""

    def const(sql: str) -> ColumnElement[Any]:
        return literal_column(sql, String)

    text = func.typeof(column) == const("'text'")
    stored = type_coerce(column, String)
    canonical = func.substr(stored, const("1"), const("10")).concat(const("'T'")).concat(
        func.substr(stored, const("12"))).concat(const("'Z'"))  # fmt: skip
    return case(
        (and_(text, stored.op("GLOB")(const(_SQLITE_GLOB))), canonical),
        (text, const(f"'{OTHER_TEXT}'").concat(stored)),
        else_=column,
    ).label(column.name)


def _short(text: str) -> str:
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"


def fetch(
    engine: Engine, statement: DriverStatement, values: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """Rows of a query straight from a DB-API cursor, in batches."""
    for batch in fetch_batches(engine, statement, values):
        yield from batch


def fetch_batches(
    engine: Engine, statement: DriverStatement, values: dict[str, Any]
) -> Iterator[list[tuple[Any, ...]]]:
    """``fetch``, a batch of rows at a time (one generator step per batch, not per row)."""
    raw = engine.raw_connection()
    try:
        cursor = lenient(raw.cursor(), engine.dialect.name)
        cursor.execute(statement.sql, statement.params(values))
        while batch := cursor.fetchmany(BATCH):
            yield batch
    finally:
        raw.close()
