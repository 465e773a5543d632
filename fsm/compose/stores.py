"""The run database's adapters, opened from settings, one SQLAlchemy engine per URL and mode.

Every opener is typed by the port it implements; the SQL classes stay behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine as SqlEngine

    from fsm.audit import AuditQueries
    from fsm.eventlog import EventLog
    from fsm.keyregistry import ApproverKeys
    from fsm.metrics import MetricsSource
    from fsm.ports import RunFilter, RunStore
    from fsm.replay import RecordedTransition
    from fsm.replaystrategy import RecordedRun
    from fsm.settings import Settings
    from persistence.store import SqlRunStore


def settings_for(db: str | None, **overrides: Any) -> Settings:
    """The settings (flags > environment > file > defaults), ``db`` when given."""
    from fsm.settings import load_settings

    given = {"db": db, **overrides}
    return load_settings(**{k: v for k, v in given.items() if v is not None})


def engine_for(url: str, read_only: bool = False, create: bool = False) -> SqlEngine:
    """The SQLAlchemy engine of ``url``, one per URL and mode for the process. Only ``create``
    (`db upgrade`) may create a missing SQLite file: every other command refuses it."""
    settings = settings_for(url)
    return _cached_engine(
        url, settings.db_pool_size, settings.db_statement_timeout_ms, settings.db_application_name,
        read_only, create,
    )  # fmt: skip


@cache
def _cached_engine(
    url: str, pool_size: int, timeout_ms: int, name: str, read_only: bool, create: bool
) -> SqlEngine:
    from persistence.engine import make_engine

    engine = make_engine(
        url, read_only=read_only, pool_size=pool_size, statement_timeout_ms=timeout_ms,
        application_name=name, create=create,
    )  # fmt: skip
    _CLOSE.append(engine.dispose)
    return engine


_CLOSE: list[Callable[[], None]] = []  # at exit, newest first (SQLite checkpoints its WAL then)


def close_databases() -> None:
    """Close what the openers opened, newest first."""
    for close in reversed(_CLOSE):
        close()


def open_store(db: str | None) -> RunStore:
    """The run database at head revision (refuses an older schema); a driver's writes ride
    through database faults for TRADEFSM_DB_RETRY_SECONDS."""
    return _sql_store(db)


def _sql_store(db: str | None) -> SqlRunStore:
    from persistence import migrate
    from persistence.ridethrough import RideThrough
    from persistence.store import SqlRunStore

    settings = settings_for(db)
    engine = engine_for(settings.db)
    migrate.ensure_current(engine)
    store = SqlRunStore(engine, RideThrough(settings.db_retry_seconds))
    _CLOSE.append(store.close)
    return store


def open_worker_store(db: str | None, concurrency: int) -> RunStore:
    """``open_store`` for a worker: with TRADEFSM_GROUP_COMMIT and more than one thread, the
    transitions its threads commit together share one commit."""
    store = _sql_store(db)
    if concurrency > 1 and settings_for(db).group_commit:
        store.share_commits()
    return store


def open_reader(db: str | None) -> RunStore:
    """The run database at head revision, opened read-only: reads never write."""
    return _sql_reader(db)


def _sql_reader(db: str | None) -> SqlRunStore:
    from persistence import migrate
    from persistence.ridethrough import RideThrough
    from persistence.store import SqlRunStore

    engine = engine_for(settings_for(db).db, read_only=True)
    migrate.ensure_current(engine)
    return SqlRunStore(engine, RideThrough(budget_seconds=0))  # a reader fails at once


def writer_engine(db: str | None) -> SqlEngine:
    """The SQLAlchemy engine of the run database at head revision, for the root's own SQL."""
    return _sql_store(db).engine


def read_decisions(db: str | None, query: RunFilter) -> Iterable[RecordedTransition]:
    """The recorded guard decisions of the runs ``query`` selects, read-only (`replay`)."""
    from persistence.replay import recorded_transitions

    return recorded_transitions(_sql_reader(db).engine, query)


def read_runs(db: str | None, query: RunFilter) -> list[RecordedRun]:
    """The recorded analysis and plan of the runs ``query`` selects, read-only (`replay`)."""
    from persistence.replay import recorded_runs

    return recorded_runs(_sql_reader(db).engine, query)


def open_metrics(db: str | None) -> MetricsSource:
    """The run database's aggregates for Prometheus (``fsm.metrics``), read-only."""
    from persistence.metrics import SqlMetrics

    return SqlMetrics(_sql_reader(db).engine)


def open_audit(db: str | None) -> AuditQueries:
    """Audit queries on the run database at head revision, read-only."""
    from persistence.audit import SqlAudit

    return SqlAudit(_sql_reader(db).engine)


def open_events(db: str | None, read_only: bool = False) -> EventLog:
    """The event log of the run database at head revision (fsm.eventlog)."""
    from persistence.events import SqlEventLog

    return SqlEventLog((_sql_reader(db) if read_only else _sql_store(db)).engine)


def shown_db(db: str) -> str:
    """The database URL as people may see it (no password, no query)."""
    from persistence.engine import shown_url

    return shown_url(db)


def open_keys(db: str | None, read_only: bool = False) -> ApproverKeys:
    """The approver key registry of the run database at head revision."""
    from persistence.approvers import SqlApproverKeys

    return SqlApproverKeys((_sql_reader(db) if read_only else _sql_store(db)).engine)


def seal_now(db: str | None, out: Path | None = None) -> dict[str, Any]:
    """Sign a digest of the runs changed since the last one (`audit seal`)."""
    from fsm.clock import SystemClock
    from fsm.errors import InvalidConfiguration
    from fsm.keyfiles import load_private_key
    from persistence.audit import SqlAudit

    settings = settings_for(db)
    if settings.audit_signing_key is None:
        raise InvalidConfiguration(
            "no signing key: set TRADEFSM_AUDIT_SIGNING_KEY to the private key file written by "
            "`tradefsm audit keygen`"
        )
    folder = out or settings.audit_digest_dir
    if folder is None:
        raise InvalidConfiguration("no digest folder: pass --out or set TRADEFSM_AUDIT_DIGEST_DIR")
    key = load_private_key(settings.audit_signing_key)
    return SqlAudit(_sql_store(db).engine).seal(key, SystemClock().now(), folder)


def configured_store(url: str) -> RunStore:
    """The run database at ``url`` for entry points that are not the CLI (the legacy facade):
    migrated to head once per process and shared after."""
    from persistence.defaults import configured_store as shared

    return shared(url)
