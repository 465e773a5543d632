"""Build SQLAlchemy engines for the run database, with SQLite pragmas and their reasons."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from fsm.canonical import canonical_json
from fsm.errors import InvalidDatabaseUrl, SchemaNotCurrent
from fsm.redaction import redact
from persistence.liveness import ping_when_idle

# An audit ledger must survive power loss, not only a crash: every commit is synced, except
# those TRADEFSM_DURABILITY=effects lets go unflushed (persistence.hotpath, docs/resume.md).
SQLITE_FLUSHED, SQLITE_UNFLUSHED = "PRAGMA synchronous=FULL", "PRAGMA synchronous=NORMAL"
SQLITE_PRAGMAS = (
    # First: wait for another writer instead of failing at once, also while the next pragma
    # turns a new database to WAL (processes opening a new file together race there).
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",  # readers (audits, `runs list`) never block the engine's writes
    SQLITE_FLUSHED,
    "PRAGMA foreign_keys=ON",  # ledger rows and intents can only point at existing runs
)
SCHEMA = "public"  # where the migrations create tradefsm's tables on PostgreSQL
# Pinned on every PostgreSQL session, above ALTER DATABASE/ROLE … SET: tables resolve in
# SCHEMA only (temporary tables last, never first), timestamps are read in the one format the
# driver parses, and times are UTC whatever the server or the role prefers.
PG_SESSION = {
    "search_path": f"{SCHEMA},pg_temp",
    "DateStyle": "ISO,YMD",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
}


def parse_url(raw: str) -> URL:
    """A checked database URL; one-line InvalidDatabaseUrl for anything unusable."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise InvalidDatabaseUrl(
            f"cannot parse database URL {redact(raw)!r}: expected sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidDatabaseUrl(
            f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql"
        )
    if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise InvalidDatabaseUrl(f"folder {path.parent} of the SQLite database does not exist")
    if path is not None and path.is_dir():
        raise InvalidDatabaseUrl(f"{path} is a folder: name the SQLite database file in it")
    return url


def shown_url(raw: str) -> str:
    """A database URL as people may see it: no password, no query (it may hold one)."""
    try:
        url = make_url(raw)
    except ArgumentError:
        return "(not a database URL)"
    return url.set(query={}).render_as_string(hide_password=True)


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(unquote(url.database.removeprefix("file:"))).expanduser().resolve()


def _refuse_missing(path: Path | None) -> None:
    if path is not None and not path.is_file():
        raise SchemaNotCurrent(f"no database file {path}: run `tradefsm db upgrade` to create it")


def make_engine(
    raw_url: str,
    *,
    read_only: bool = False,
    pool_size: int = 5,
    statement_timeout_ms: int = 30_000,
    application_name: str = "tradefsm",
    create: bool = True,
    **options: Any,
) -> Engine:
    """An engine for the run database; the pool and session settings apply to PostgreSQL.

    ``create``: a missing SQLite file is created at the first connection; otherwise (and
    always when ``read_only``) it is refused with a one-line SchemaNotCurrent.

    ``read_only``: nothing can be written through it (SQLite opens the file read-only, as
    immutable when its folder or the file cannot be written, e.g. an archived copy;
    PostgreSQL sessions default to read-only transactions).
    """
    url = parse_url(raw_url)
    if read_only or not create:
        _refuse_missing(sqlite_file(url))
    try:
        if url.get_backend_name() == "sqlite":
            if read_only:
                return _read_only_sqlite_engine(url, **options)
            return _sqlite_engine(url, **options)
        pinned = {**PG_SESSION, "statement_timeout": str(statement_timeout_ms)}
        if read_only:
            pinned["default_transaction_read_only"] = "on"
        flags = " ".join(f"-c {name}={value}" for name, value in pinned.items())
        session = {"application_name": application_name, "options": flags}
        engine = create_engine(url, json_serializer=canonical_json, pool_size=pool_size,
                               connect_args=session, **options)  # fmt: skip
        ping_when_idle(engine)
        return engine
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InvalidDatabaseUrl(f"cannot use database URL {redact(raw_url)!r}: {exc}") from exc


def _read_only_sqlite_engine(url: URL, **options: Any) -> Engine:
    # A read-only engine's own URL (file:PATH?mode=ro...) names the same file.
    path = sqlite_file(url)
    if path is None:
        raise InvalidDatabaseUrl("an in-memory SQLite database cannot be opened read-only")
    # A WAL database needs its shared-memory file: where it cannot be created or written, the
    # copy cannot change under us either, so it is opened as immutable.
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    wal = path.with_name(path.name + "-wal")
    if not writable and wal.is_file() and wal.stat().st_size > 0:
        raise InvalidDatabaseUrl(
            f"{path} is read-only and has a write-ahead log that cannot be applied: archive a "
            f"complete copy with `sqlite3 LIVE.db \"VACUUM INTO '{path.name}'\"`"
        )
    flags = "mode=ro" if writable else "mode=ro&immutable=1"
    engine = create_engine(f"sqlite:///file:{quote(str(path))}?{flags}&uri=true", **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout=5000")

    return engine


def _sqlite_engine(url: URL, **options: Any) -> Engine:
    # JSON is stored in canonical form (sorted keys, no spaces): the ledger's guards are then
    # byte-for-byte what the hash chain covers, and a verifier can hash them as stored.
    engine = create_engine(url, json_serializer=canonical_json, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's own would be DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a transition never fails half-way on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
