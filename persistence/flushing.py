"""Wait until the history a transaction reads is on disk: digests seal only flushed history.

With TRADEFSM_DURABILITY=effects some transition commits are not flushed when they return
(``persistence.hotpath``); a power loss may still take them away, so a signed digest must not
name them before they are on disk, or it would sign heads the database no longer has.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Connection, text

from fsm.errors import DatabaseUnavailable

PG_FLUSH_WAIT_SECONDS = 30.0  # the WAL writer flushes unflushed commits within 3 × 200 ms
_PG_INSERTED = text("SELECT pg_current_wal_insert_lsn()")
_PG_FLUSHED = text("SELECT pg_current_wal_flush_lsn() >= CAST(:lsn AS pg_lsn)")


def flush_history(conn: Connection) -> None:
    """Return once every commit that ``conn``'s reads so far saw is on disk.

    SQLite: the transaction holds the write lock (``BEGIN IMMEDIATE``), so no commit lands
    after the reads. Every commit not yet copied into the database file is in the write-ahead
    log (a checkpoint syncs the log before copying and the file after), so syncing the log
    file makes them all durable, as the next ``synchronous=FULL`` commit would.

    PostgreSQL: every commit the reads saw was written to the write-ahead log before the
    position read here; this waits until the server has flushed the log past it
    (DatabaseUnavailable after ``PG_FLUSH_WAIT_SECONDS``).
    """
    if conn.dialect.name == "sqlite":
        _sync_sqlite_log(conn)
        return
    lsn = conn.execute(_PG_INSERTED).scalar_one()
    waited = time.monotonic() + PG_FLUSH_WAIT_SECONDS
    while not conn.execute(_PG_FLUSHED, {"lsn": lsn}).scalar_one():
        if time.monotonic() > waited:
            raise DatabaseUnavailable(
                f"PostgreSQL did not flush its write-ahead log to {lsn} within "
                f"{PG_FLUSH_WAIT_SECONDS:g} s; nothing was sealed: try again"
            )
        time.sleep(0.01)


def _sync_sqlite_log(conn: Connection) -> None:
    rows = conn.exec_driver_sql("PRAGMA database_list").all()
    main = next((row[2] for row in rows if row[1] == "main"), "")
    log = Path(f"{main}-wal")
    if not main or not log.is_file():  # in memory, or nothing written since the checkpoint
        return
    descriptor = os.open(log, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the file's content, whichever descriptor wrote it
    finally:
        os.close(descriptor)
