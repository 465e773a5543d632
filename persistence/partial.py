"""Partial indexes whose definition does not load PostgreSQL's dialect on SQLite.

Naming ``postgresql_where`` on an ``Index`` makes SQLAlchemy import the whole PostgreSQL
dialect to check the keyword, even in a process that only ever opens SQLite. ``partial_index``
keeps PostgreSQL's predicate in the index's ``info`` instead and hands it to the dialect when
PostgreSQL compiles the index's CREATE INDEX (the dialect is loaded by then).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.compiler import DDLCompiler

_POSTGRES_WHERE = "postgresql_where"


def partial_index(
    name: str, *columns: str, where: str, sqlite_where: str | None = None, unique: bool = False
) -> Index:
    """An index of the rows where ``where`` holds (``sqlite_where`` on SQLite when it is
    spelled differently there), on SQLite and PostgreSQL alike."""
    return Index(name, *columns, unique=unique, sqlite_where=text(sqlite_where or where),
                 info={_POSTGRES_WHERE: text(where)})  # fmt: skip


@compiles(CreateIndex, "postgresql")
def _create_partial_index(create: CreateIndex, compiler: DDLCompiler, **kw: Any) -> str:
    where = create.element.info.get(_POSTGRES_WHERE)
    if where is not None:
        create.element.dialect_options["postgresql"]["where"] = where
    sql: str = compiler.visit_create_index(create, **kw)  # type: ignore[no-untyped-call]
    return sql
