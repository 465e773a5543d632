"""Triggers that make tables append-only on SQLite and PostgreSQL (used by migrations)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tradefsm_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'tradefsm: ' || TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql
"""


def create(bind: Connection, tables: Iterable[str]) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(PG_FUNCTION)
    for table in tables:
        for operation in ("UPDATE", "DELETE"):
            bind.exec_driver_sql(_create_sql(bind.dialect.name, table, operation))


def drop(bind: Connection, tables: Iterable[str]) -> None:
    for table in tables:
        for operation in ("UPDATE", "DELETE"):
            name = trigger_name(table, operation)
            on = f" ON {table}" if bind.dialect.name == "postgresql" else ""
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on}")


def trigger_name(table: str, operation: str) -> str:
    return f"{table}_append_only_{operation.lower()}"


def _create_sql(dialect: str, table: str, operation: str) -> str:
    name = trigger_name(table, operation)
    if dialect == "postgresql":
        return (
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tradefsm_refuse_change()"
        )
    return (
        f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'tradefsm: {table} is append-only: {operation} refused'); END"
    )


def drop_function(bind: Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS tradefsm_refuse_change()")
