"""People in the ledger: which process moved each transition, and cancel requests.

``ledger.process`` (NULL on rows of schemes 1 to 3) is hashed from scheme 4 on.
``cancel_requests`` is append-only, a hash chain per run (``fsm.cancels``); the row that
cancels the run commits to its head (``commits.cancel_requests``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger", sa.Column("process", sa.String(length=160), nullable=True))
    op.create_table(
        "cancel_requests",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("process", sa.String(length=160), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_cancel_requests_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "n", name=op.f("pk_cancel_requests")),
    )
    append_only.create(op.get_bind(), ["cancel_requests"])


def downgrade() -> None:
    append_only.drop(op.get_bind(), ["cancel_requests"])
    op.drop_table("cancel_requests")
    # SQLite rebuilds a table to drop a column, which loses its triggers: re-create them.
    append_only.drop(op.get_bind(), ["ledger"])
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("process")
    append_only.create(op.get_bind(), ["ledger"])
