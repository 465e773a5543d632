"""Statements that differ by backend, built without importing the other backend's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Dialect, Table, and_


def upsert(dialect: Dialect, table: Table) -> Any:
    """``INSERT … ON CONFLICT`` for ``dialect`` (PostgreSQL or SQLite), to finish with
    ``on_conflict_do_nothing`` or ``on_conflict_do_update``."""
    if dialect.name == "postgresql":  # loaded already: the engine uses it
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite  # noqa: PLC0415  # never loads PostgreSQL's

    return sqlite.insert(table)


def starts_with(dialect: Dialect, column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` begins with ``prefix`` (``_`` and ``%`` match themselves). SQLite does not
    search an index for ``LIKE`` (case-insensitive by default), but compares text bytewise, so
    there the values that begin with ``prefix`` are also a range of the column's index: the
    bounds let a search by run id prefix read only the matching ids. PostgreSQL's collations
    do not sort bytewise, so it keeps ``LIKE`` alone."""
    like = column.startswith(prefix, autoescape=True)
    if dialect.name != "sqlite" or not prefix:
        return like
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not text: the next character is U+E000
        following = 0xE000
    if following > 0x10FFFF:
        return and_(column >= prefix, like)
    return and_(column >= prefix, column < prefix[:-1] + chr(following), like)
