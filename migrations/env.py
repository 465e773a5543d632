"""Alembic environment: runs on the engine that ``persistence.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from persistence.tables import metadata  # the tables register themselves on it

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine), "migrations run through persistence.migrate"

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
