"""Alembic environment: runs on the engine that ``persistence.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from persistence.tables import metadata  # the tables register themselves on it

# Processes migrating one database at once take turns: on PostgreSQL this transaction-scoped
# lock, taken before Alembic reads the version table (SQLite's transactions begin IMMEDIATE,
# persistence.engine); the second then finds the database at head and does nothing.
MIGRATION_LOCK = 0x7472_6164_6566_736D  # "tradefsm", any key the database shares with nobody

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine), "migrations run through persistence.migrate"

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
    connection.commit()
