"""Events from the ledger: a global order of ledger rows and a cursor per subscriber.

``ledger.txid`` (PostgreSQL) is the id of the transaction that wrote the row, by a server
default (rows written before this revision all get the id of the migration's transaction);
with ``run_id`` and ``seq`` it orders rows for subscribers, and rows of transactions still
open are held back (fsm.events). On SQLite the column stays NULL: the rowid orders the rows,
one writer committing at a time. ``event_cursors`` keeps, per subscriber, the last row
delivered and the failed tries of the next: mutable operational state, not append-only.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# xid8 as text as bigint: 64 bits with the epoch, never wrapping around
PG_TXID = sa.text("(pg_current_xact_id()::text::bigint)")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    default = PG_TXID if postgres else None
    op.add_column("ledger", sa.Column("txid", sa.BigInteger(), server_default=default))
    where = sa.text("txid IS NOT NULL")
    op.create_index(
        "ix_ledger_txid", "ledger", ["txid", "run_id", "seq"], unique=False,
        sqlite_where=where, postgresql_where=where,
    )  # fmt: skip
    op.create_table(
        "event_cursors",
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", name=op.f("pk_event_cursors")),
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
    op.drop_index("ix_ledger_txid", table_name="ledger")
    # not a batch: SQLite would rebuild the table and lose its append-only triggers
    op.execute("ALTER TABLE ledger DROP COLUMN txid")
