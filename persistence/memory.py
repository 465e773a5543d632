"""An in-memory SQLite run database, migrated: the legacy facade's default store."""

from __future__ import annotations

from sqlalchemy.pool import StaticPool

from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore


def in_memory_store() -> SqlRunStore:
    # One shared connection: every thread sees the same in-memory database.
    engine = make_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    migrate.upgrade(engine)
    return SqlRunStore(engine)
