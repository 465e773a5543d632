"""The database-fault policy: driver errors become tradefsm errors here, and only here.

A fault is *transient* when the same statement may succeed once the database is back: the
connection was refused, closed or reset; the server is shutting down, crashed or still
starting; a serialization failure or deadlock; a lock or statement timeout; SQLite's
``database is locked`` past its busy timeout; the connection pool was exhausted. Those
become ``DatabaseUnavailable`` (a ``TransientError``), which the store rides through
(persistence.ridethrough). Everything else (a missing table, a refused constraint, a
read-only file, a failed login) is a ``StorageError`` that no retry fixes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from fsm.errors import (
    ConcurrentModification,
    DatabaseUnavailable,
    HistoryIsAppendOnly,
    StorageAccessDenied,
    StorageError,
    TradeFsmError,
)
from fsm.redaction import redact

# PostgreSQL SQLSTATEs of faults a retry may outlive (class 08 is every connection exception).
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57014",  # query_canceled: statement_timeout, or a cancel by an administrator
    "57P01",  # admin_shutdown: server stopping, or pg_terminate_backend
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: the server is starting up or shutting down
    "53300",  # too_many_connections
})  # fmt: skip
TRANSIENT_SQLSTATE_CLASSES = ("08",)
INSUFFICIENT_PRIVILEGE = "42501"  # a missing GRANT: StorageAccessDenied
# Connection errors that carry no SQLSTATE but will not heal by waiting.
PERMANENT_CONNECT_ERRORS = ("authentication failed", "does not exist", "no password supplied")
NO_PARTITION = "no partition of relation"  # a row of a month without its partition
SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy")


def is_transient(exc: sa_exc.SQLAlchemyError) -> bool:
    """Whether ``exc`` is a fault that retrying the same statement later may outlive."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # the pool was exhausted, or a pooled connection was found dead
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    orig = exc.orig
    detail = str(orig)
    if type(orig).__module__ == "sqlite3":
        return any(message in detail for message in SQLITE_TRANSIENT)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    # No SQLSTATE: the connection itself failed (refused, closed, reset by the server).
    return not any(message in detail for message in PERMANENT_CONNECT_ERRORS)


@contextmanager
def translate_errors(run_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, run_id) from exc


def translate(exc: sa_exc.SQLAlchemyError, run_id: str | None = None) -> TradeFsmError:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = redact(lines[0] if lines else type(exc).__name__)
    if "append-only" in detail:  # raised by the triggers of persistence.append_only
        return HistoryIsAppendOnly(detail, run_id=run_id)
    if "file is not a database" in detail:
        return StorageError(
            "not a tradefsm database: the file is not an SQLite database (check --db or "
            "TRADEFSM_DB)", run_id=run_id,
        )  # fmt: skip
    if is_transient(exc):
        return DatabaseUnavailable(f"the database is unavailable: {detail}", run_id=run_id)
    if isinstance(exc, sa_exc.IntegrityError) and NO_PARTITION not in detail:
        return ConcurrentModification(
            f"another writer stored this row first: {detail}", run_id=run_id
        )
    if isinstance(exc, sa_exc.DBAPIError):
        return _refused(exc, detail, run_id)
    return StorageError(f"the database layer failed: {detail}", run_id=run_id)


def _refused(exc: sa_exc.DBAPIError, detail: str, run_id: str | None) -> StorageError:
    if NO_PARTITION in detail:  # PostgreSQL: a month not created yet
        return StorageError(
            f"{detail}: that month has no partition yet; run `tradefsm db partitions ensure` "
            "as the tables' owner", run_id=run_id,
        )  # fmt: skip
    denied = getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    kind = StorageAccessDenied if denied else StorageError
    return kind(f"the database refused the statement: {detail}", run_id=run_id)
