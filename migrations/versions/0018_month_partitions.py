"""Month partitions: on PostgreSQL the ledger and its side tables are range-partitioned by
the month of each row's time, so retention can detach a month after archiving it
(docs/operations.md, "Month partitions"); ``checkpoints.recorded_at`` on both backends, the
time of the ledger row written with the checkpoint (backfilled from it), its partition key.

SQLite keeps plain tables: it gains the column only (its triggers are made again around the
table's rebuild, which loses them).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from persistence import append_only, partitioning
from persistence.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None
BACKFILL = (
    "UPDATE checkpoints SET recorded_at = COALESCE("
    "(SELECT l.occurred_at FROM ledger l WHERE l.run_id = checkpoints.run_id "
    "AND l.seq = checkpoints.seq), "
    "(SELECT r.created_at FROM runs r WHERE r.run_id = checkpoints.run_id))"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        partitioning.partition(bind, datetime.now(UTC).date())
        return
    append_only.drop(bind, ["checkpoints"])  # the backfill updates rows
    op.add_column("checkpoints", sa.Column("recorded_at", UtcDateTime(), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table("checkpoints") as batch:
        batch.alter_column("recorded_at", existing_type=UtcDateTime(), nullable=False)
    _sqlite_triggers()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        partitioning.unpartition(bind)
        return
    append_only.drop(bind, ["checkpoints"])
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("recorded_at")
    _sqlite_triggers()


def _sqlite_triggers() -> None:
    append_only.create(op.get_bind(), ["checkpoints"])
    append_only.allow_archived_deletes(op.get_bind())
