"""The risk policy as data: ``policy_changes``, an append-only, hash-chained history.

Its first row (version 1) holds every key of ``fsm.policy.RiskPolicy`` at its default, so a
database with no policy set behaves as before. Triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE, in every session) as on the other append-only tables.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fsm.policyhistory import defaults_row
from persistence import append_only
from persistence.types import JsonDocument, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "policy_changes",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("values", JsonDocument, nullable=False),
        sa.Column("refers", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_policy_changes")),
    )
    assert table is not None
    row = defaults_row()
    op.bulk_insert(table, [row.__dict__])
    append_only.create(op.get_bind(), ["policy_changes"])
    append_only.harden(op.get_bind(), ["policy_changes"])


def downgrade() -> None:
    append_only.soften(op.get_bind(), ["policy_changes"])
    append_only.drop(op.get_bind(), ["policy_changes"])
    op.drop_table("policy_changes")
