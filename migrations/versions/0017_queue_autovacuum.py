"""Autovacuum for the queue table: ``runs`` is vacuumed and analysed after a fixed number of
changed rows, not after a fraction of a table that keeps every finished run.

Every transition updates its run's row (``state`` is indexed, so the update is not HOT and
leaves a dead tuple in the heap and in the indexes it touches), and workers claim from it with
``FOR UPDATE SKIP LOCKED``. With PostgreSQL's defaults (vacuum at 20 % dead rows, analyse at
10 % changed) a table holding a million finished runs waits for 200,000 dead tuples before a
vacuum: the claim's partial index fills with dead entries and the planner's estimate of the
unfinished runs goes stale. PostgreSQL only; SQLite has no autovacuum to tune
(docs/operations.md, "The queue table").

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# as docs/operations.md lists them; tests/migrations/test_queue_autovacuum.py reads them back
RUNS_AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0",
    "autovacuum_analyze_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0",
    "autovacuum_vacuum_insert_threshold": "10000",
    "autovacuum_vacuum_cost_delay": "1",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        settings = ", ".join(f"{name} = {value}" for name, value in RUNS_AUTOVACUUM.items())
        op.execute(f"ALTER TABLE runs SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE runs RESET ({', '.join(RUNS_AUTOVACUUM)})")
