"""Step attempts (every try of a step, append-only) and an index for active runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_attempts",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_step_attempts_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "state", "attempt", name=op.f("pk_step_attempts")),
    )
    op.create_index("ix_runs_status", "runs", ["status"], unique=False)
    append_only.create(op.get_bind(), ["step_attempts"])


def downgrade() -> None:
    append_only.drop(op.get_bind(), ["step_attempts"])
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_table("step_attempts")
