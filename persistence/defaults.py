"""Run databases for entry points that are not the CLI: the legacy facade's default store."""

from __future__ import annotations

from functools import cache

from sqlalchemy.pool import StaticPool

from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore


def in_memory_store() -> SqlRunStore:
    """A migrated in-memory SQLite database: runs vanish with the process (tests, demos)."""
    # One shared connection: every thread sees the same in-memory database.
    engine = make_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    migrate.upgrade(engine)
    return SqlRunStore(engine)


@cache
def configured_store(url: str) -> SqlRunStore:
    """The run database at ``url``, migrated to head once per process and shared after."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return in_memory_store()
    engine = make_engine(url)
    migrate.upgrade(engine)
    return SqlRunStore(engine)
