"""An index on ``runs.correlation_id``: the console's search box finds a run by it.

Without it, ``/?q=<correlation id>`` scanned every run (118 ms at 1M ledger rows).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_correlation_id", "runs", ["correlation_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_runs_correlation_id", table_name="runs")
