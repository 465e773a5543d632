"""The composition root: settings, the SQL store, the audit queries and the signing key.

The CLI imports this module only when a command needs a database, so `tradefsm --help` and
`--version` never load SQLAlchemy or Alembic.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsm.clock import SystemClock
from fsm.commands.embedded import settings_from
from fsm.errors import InvalidConfiguration
from persistence import migrate
from persistence.engine import make_engine
from persistence.ridethrough import RideThrough
from persistence.store import SqlRunStore

if TYPE_CHECKING:
    from persistence.audit import SqlAudit


def engine_for(url: str, read_only: bool = False) -> Any:
    settings = settings_from(db=url)
    return _cached_engine(
        url, settings.db_pool_size, settings.db_statement_timeout_ms, settings.db_application_name,
        read_only,
    )  # fmt: skip


@cache
def _cached_engine(url: str, pool_size: int, timeout_ms: int, name: str, read_only: bool) -> Any:
    engine = make_engine(
        url, read_only=read_only, pool_size=pool_size, statement_timeout_ms=timeout_ms,
        application_name=name,
    )  # fmt: skip
    _OPENED.append(engine)
    return engine


_OPENED: list[Any] = []  # engines and stores to close at exit (SQLite checkpoints its WAL then)


def close_databases() -> None:
    for opened in reversed(_OPENED):
        (opened.close if isinstance(opened, SqlRunStore) else opened.dispose)()


def open_store(db: str | None) -> SqlRunStore:
    """The run database at head revision (refuses an older schema); a driver's writes ride
    through database faults for TRADEFSM_DB_RETRY_SECONDS."""
    settings = settings_from(db=db)
    engine = engine_for(settings.db)
    migrate.ensure_current(engine)
    store = SqlRunStore(engine, RideThrough(settings.db_retry_seconds))
    _OPENED.append(store)
    return store


def open_reader(db: str | None) -> SqlRunStore:
    """The run database at head revision, opened read-only: reads never write."""
    engine = engine_for(settings_from(db=db).db, read_only=True)
    migrate.ensure_current(engine)
    return SqlRunStore(engine, RideThrough(budget_seconds=0))  # a reader fails at once


def open_audit(db: str | None) -> SqlAudit:
    """Audit queries on the run database at head revision, read-only."""
    from persistence.audit import SqlAudit

    return SqlAudit(open_reader(db).engine)


def seal_now(db: str | None, out: Path | None = None) -> dict[str, Any]:
    """Sign a digest of the runs changed since the last one (`audit seal`)."""
    settings = settings_from(db=db)
    if settings.audit_signing_key is None:
        raise InvalidConfiguration(
            "no signing key: set TRADEFSM_AUDIT_SIGNING_KEY to the private key file written by "
            "`tradefsm audit keygen`"
        )
    folder = out or settings.audit_digest_dir
    if folder is None:
        raise InvalidConfiguration("no digest folder: pass --out or set TRADEFSM_AUDIT_DIGEST_DIR")
    from fsm.digests import load_private_key
    from persistence.audit import SqlAudit

    key = load_private_key(settings.audit_signing_key)
    return SqlAudit(open_store(db).engine).seal(key, SystemClock().now(), folder)
