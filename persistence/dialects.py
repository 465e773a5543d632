"""Statements that differ by backend, built without importing the other backend's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, Table


def upsert(dialect: Dialect, table: Table) -> Any:
    """``INSERT … ON CONFLICT`` for ``dialect`` (PostgreSQL or SQLite), to finish with
    ``on_conflict_do_nothing`` or ``on_conflict_do_update``."""
    if dialect.name == "postgresql":  # loaded already: the engine uses it
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite  # noqa: PLC0415  # never loads PostgreSQL's

    return sqlite.insert(table)
