"""Approver keys: the registry of Ed25519 public keys that sign approvals (append-only).

Its rows form a hash chain of their own (``fsm.keyregistry``); the signatures themselves live
in the ``approval_signed`` guard decisions of the ledger, which the ledger chain hashes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approver_keys",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_approver_keys")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_approver_keys_fingerprint")),
    )
    append_only.create(op.get_bind(), ["approver_keys"])


def downgrade() -> None:
    append_only.drop(op.get_bind(), ["approver_keys"])
    op.drop_table("approver_keys")
