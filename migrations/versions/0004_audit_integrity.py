"""Audit integrity: ledger rows commit to what a reviewer reads; signed digests of run heads.

Rows written before this revision keep verifying under the legacy scheme 1 (``scheme``
defaults to 1, ``commits`` and the intent event hashes stay NULL); `audit verify` reports
them as legacy rather than trusting them silently, and `audit seal` anchors their heads.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import JsonDocument, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger", sa.Column("commits", JsonDocument, nullable=True))
    op.add_column(
        "ledger", sa.Column("scheme", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.add_column("intent_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("intent_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "digests",
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("document", JsonDocument, nullable=False),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_digests")),
    )
    op.create_table(
        "sealed_heads",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_sealed_heads")),
    )
    append_only.create(op.get_bind(), ["digests"])


def downgrade() -> None:
    append_only.drop(op.get_bind(), ["digests"])
    op.drop_table("sealed_heads")
    op.drop_table("digests")
    # SQLite rebuilds a table to drop a column, which loses its triggers: re-create them.
    append_only.drop(op.get_bind(), ["ledger", "intent_events"])
    with op.batch_alter_table("intent_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("scheme")
        batch.drop_column("commits")
    append_only.create(op.get_bind(), ["ledger", "intent_events"])
