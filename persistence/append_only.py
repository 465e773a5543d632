"""Triggers that make tables append-only on SQLite and PostgreSQL (used by migrations).

``create`` is what revisions 0001-0006 made (row triggers refusing UPDATE and DELETE);
``harden`` (revision 0007) adds, on PostgreSQL, a statement trigger refusing TRUNCATE and marks
every one ``ENABLE ALWAYS`` so that ``session_replication_role = replica`` does not skip it.
``allow_archived_deletes`` (revision 0014) replaces the DELETE trigger of each table holding a
run's history (``ARCHIVABLE``) with one that refuses a DELETE unless the run has a tombstone:
the one way rows leave the database is `tradefsm retention apply`, which writes the tombstone
first in the same transaction. ``expected`` is what a database at the head revision must hold
(persistence.defences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Connection

# Every table the database itself keeps append-only, at the head revision.
TABLES = ("ledger", "checkpoints", "step_attempts", "intent_events", "digests", "approver_keys",
          "cancel_requests", "halts", "policy_changes", "holds", "tombstones")  # fmt: skip
# The tables of a run's own history: their rows may be deleted once the run has a tombstone.
ARCHIVABLE = ("ledger", "checkpoints", "step_attempts", "intent_events", "cancel_requests")
FUNCTION = "tradefsm_refuse_change"
PG_FUNCTION_BODY = """
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'tradefsm: ' || TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END;
"""
PG_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $${PG_FUNCTION_BODY}$$ "
    "LANGUAGE plpgsql"
)
ROW_OPERATIONS = ("UPDATE", "DELETE")
ARCHIVED_FUNCTION = "tradefsm_refuse_unarchived_delete"
PG_ARCHIVED_BODY = """
BEGIN
    IF EXISTS (SELECT 1 FROM tombstones t WHERE t.run_id = OLD.run_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = 'tradefsm: ' || TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END;
"""


def create(bind: Connection, tables: Iterable[str]) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(PG_FUNCTION)
    for table in tables:
        for operation in ROW_OPERATIONS:
            bind.exec_driver_sql(_create_sql(bind.dialect.name, table, operation))


def drop(bind: Connection, tables: Iterable[str]) -> None:
    for table in tables:
        for operation in ROW_OPERATIONS:
            name = trigger_name(table, operation)
            on = f" ON {table}" if bind.dialect.name == "postgresql" else ""
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on}")


def harden(bind: Connection, tables: Iterable[str]) -> None:
    """PostgreSQL: refuse TRUNCATE too, and fire every trigger in replica sessions as well."""
    if bind.dialect.name != "postgresql":
        return  # SQLite has no TRUNCATE (a DELETE fires the row triggers) and no replica mode
    for table in tables:
        name = trigger_name(table, "TRUNCATE")
        bind.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE TRUNCATE ON {table} "
                             f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")  # fmt: skip
        for operation in (*ROW_OPERATIONS, "TRUNCATE"):
            bind.exec_driver_sql(
                f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger_name(table, operation)}"
            )


def soften(bind: Connection, tables: Iterable[str]) -> None:
    """Undo ``harden`` (the downgrade of revision 0007)."""
    if bind.dialect.name != "postgresql":
        return
    for table in tables:
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger_name(table, 'TRUNCATE')} ON {table}")
        for operation in ROW_OPERATIONS:
            bind.exec_driver_sql(
                f"ALTER TABLE {table} ENABLE TRIGGER {trigger_name(table, operation)}"
            )


def allow_archived_deletes(bind: Connection) -> None:
    """Revision 0014: DELETE on the ``ARCHIVABLE`` tables only for runs with a tombstone."""
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        bind.exec_driver_sql(f"CREATE OR REPLACE FUNCTION {ARCHIVED_FUNCTION}() RETURNS trigger "
                             f"AS $${PG_ARCHIVED_BODY}$$ LANGUAGE plpgsql")  # fmt: skip
    _replace_deletes(bind, lambda table: _archived_sql(bind.dialect.name, table))


def refuse_all_deletes(bind: Connection) -> None:
    """Undo ``allow_archived_deletes`` (the downgrade of revision 0014)."""
    _replace_deletes(bind, lambda table: _create_sql(bind.dialect.name, table, "DELETE"))
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {ARCHIVED_FUNCTION}()")


def _replace_deletes(bind: Connection, definition: Callable[[str], str]) -> None:
    postgres = bind.dialect.name == "postgresql"
    for table in ARCHIVABLE:
        name = trigger_name(table, "DELETE")
        on = f" ON {table}" if postgres else ""
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on}")
        bind.exec_driver_sql(definition(table))
        if postgres:
            bind.exec_driver_sql(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def _archived_sql(dialect: str, table: str) -> str:
    name = trigger_name(table, "DELETE")
    if dialect == "postgresql":
        return (f"CREATE TRIGGER {name} BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {ARCHIVED_FUNCTION}()")  # fmt: skip
    return (
        f"CREATE TRIGGER {name} BEFORE DELETE ON {table} WHEN NOT EXISTS (SELECT 1 FROM "
        "tombstones t WHERE t.run_id = OLD.run_id) BEGIN "
        f"SELECT RAISE(ABORT, 'tradefsm: {table} is append-only: DELETE refused'); END"
    )


def functions() -> dict[tuple[str, str], tuple[str, str]]:
    """PostgreSQL: (table, trigger) → the function it calls and that function's body."""
    bodies = dict.fromkeys(expected("postgresql"), (FUNCTION, PG_FUNCTION_BODY))
    for table in ARCHIVABLE:
        bodies[table, trigger_name(table, "DELETE")] = (ARCHIVED_FUNCTION, PG_ARCHIVED_BODY)
    return bodies


def trigger_name(table: str, operation: str) -> str:
    return f"{table}_append_only_{operation.lower()}"


def expected(dialect: str) -> dict[tuple[str, str], str]:
    """(table, trigger) → its definition as the database reports it, at the head revision:
    SQLite's ``sqlite_master.sql``, PostgreSQL's ``pg_get_triggerdef`` (schema public)."""
    out = {}
    for table in TABLES:
        operations = ROW_OPERATIONS if dialect == "sqlite" else (*ROW_OPERATIONS, "TRUNCATE")
        for operation in operations:
            name = trigger_name(table, operation)
            archived = operation == "DELETE" and table in ARCHIVABLE
            out[table, name] = (_archived_sql(dialect, table) if archived
                                else _create_sql(dialect, table, operation))  # fmt: skip
    return out


def _create_sql(dialect: str, table: str, operation: str) -> str:
    name = trigger_name(table, operation)
    if dialect == "postgresql":
        each = "STATEMENT" if operation == "TRUNCATE" else "ROW"
        return (
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
            f"FOR EACH {each} EXECUTE FUNCTION {FUNCTION}()"
        )
    return (
        f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'tradefsm: {table} is append-only: {operation} refused'); END"
    )


def drop_function(bind: Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
