"""A partial index for claimable runs: the claim reads unfinished runs only.

The claim selects queued runs and active runs whose lease expired, oldest first. Without this
index a runs table that keeps every finished run grows the claim's work with the history;
with it, the claim walks the few unfinished rows in ``created_at`` order.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CLAIMABLE_WHERE = "status IN ('queued', 'active')"  # as persistence/tables.py has it


def upgrade() -> None:
    op.create_index(
        "ix_runs_claimable",
        "runs",
        ["created_at", "run_id"],
        unique=False,
        sqlite_where=text(CLAIMABLE_WHERE),
        postgresql_where=text(CLAIMABLE_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_claimable", table_name="runs")
