"""Retention with legal hold: ``holds`` and ``tombstones``, and deletes only of archived runs.

``holds`` is the append-only, hash-chained history of legal holds of one run or one account
(``fsm.holds``); ``tombstones`` the append-only, hash-chained record of each archived run
(``fsm.tombstones``). Both are append-only with the triggers of revision 0007 (TRUNCATE
refused, ENABLE ALWAYS on PostgreSQL). The DELETE triggers of the tables of a run's history
now refuse a delete unless the run has a tombstone (``append_only.allow_archived_deletes``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
TABLES = ["holds", "tombstones"]


def _who() -> list[sa.Column[object]]:
    return [
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("process", sa.String(length=160), nullable=False),
    ]


def _links() -> list[sa.Column[object]]:
    return [
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        *_who(),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        *_links(),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_holds")),
    )
    op.create_table(
        "tombstones",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("bundle_hash", sa.String(length=64), nullable=False),
        *_who(),
        sa.Column("archived_at", UtcDateTime(), nullable=False),
        *_links(),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tombstones")),
        sa.UniqueConstraint("run_id", name=op.f("uq_tombstones_run_id")),
    )
    append_only.create(op.get_bind(), TABLES)
    append_only.harden(op.get_bind(), TABLES)
    append_only.allow_archived_deletes(op.get_bind())


def downgrade() -> None:
    append_only.refuse_all_deletes(op.get_bind())
    append_only.soften(op.get_bind(), TABLES)
    append_only.drop(op.get_bind(), TABLES)
    op.drop_table("tombstones")
    op.drop_table("holds")
