"""Run databases for entry points that are not the CLI: the legacy facade's default store."""

from __future__ import annotations

import threading

from sqlalchemy.pool import StaticPool

from persistence import migrate
from persistence.engine import make_engine
from persistence.ridethrough import RideThrough
from persistence.store import SqlRunStore

# Processes migrating one new SQLite file together wait for each other's write lock; past
# SQLite's busy timeout the migration is tried again within this budget.
MIGRATION_RETRY_SECONDS = 60.0
_STORES: dict[str, SqlRunStore] = {}
_OPENING = threading.Lock()  # threads constructing facades together share one store


def in_memory_store() -> SqlRunStore:
    """A migrated in-memory SQLite database: runs vanish with the process (tests, demos)."""
    # One shared connection: every thread sees the same in-memory database.
    engine = make_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    migrate.upgrade(engine)
    return SqlRunStore(engine)


def configured_store(url: str) -> SqlRunStore:
    """The run database at ``url``, migrated to head once per process and shared after.

    Safe to call from several threads at once: the first migrates, the others wait for it.
    """
    with _OPENING:
        store = _STORES.get(url)
        if store is None:
            store = _STORES[url] = _open(url)
        return store


def _open(url: str) -> SqlRunStore:
    if url in ("sqlite://", "sqlite:///:memory:"):
        return in_memory_store()
    engine = make_engine(url)
    RideThrough(MIGRATION_RETRY_SECONDS).call("migration", lambda: migrate.upgrade(engine))
    return SqlRunStore(engine)
