"""The kill switch: ``halts``, the append-only, hash-chained history of halts and unhalts.

Each row halts or lifts the halt of one account (``account_id``) or of every account (NULL),
with who, why, when and from which process (``fsm.halts``); the rows form one hash chain and
the row that fails a run for a halt commits to its head (``commits.halts``). Append-only with
the triggers of revision 0007 (TRUNCATE refused, ENABLE ALWAYS on PostgreSQL).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "halts",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("process", sa.String(length=160), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_halts")),
    )
    append_only.create(op.get_bind(), ["halts"])
    append_only.harden(op.get_bind(), ["halts"])


def downgrade() -> None:
    append_only.soften(op.get_bind(), ["halts"])
    append_only.drop(op.get_bind(), ["halts"])
    op.drop_table("halts")
