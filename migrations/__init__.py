"""Alembic migrations of the run database (driven by ``persistence.migrate``)."""
