"""Append-only triggers that replica sessions cannot skip, and TRUNCATE refused (PostgreSQL).

Every append-only trigger becomes ``ENABLE ALWAYS`` (``session_replication_role = replica``,
which a superuser or a logical-replication apply worker may set, no longer skips it), and each
append-only table gets a ``BEFORE TRUNCATE`` statement trigger. SQLite is unchanged: it has no
TRUNCATE (a DELETE fires the row triggers) and no replica mode.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

from persistence import append_only

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("ledger", "checkpoints", "step_attempts", "intent_events", "digests", "approver_keys",
          "cancel_requests")  # fmt: skip


def upgrade() -> None:
    append_only.harden(op.get_bind(), TABLES)


def downgrade() -> None:
    append_only.soften(op.get_bind(), TABLES)
