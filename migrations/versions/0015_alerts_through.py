"""``event_cursors.alerts_through``: up to when a subscriber was handed the time-based events
(``run.not_done_by``), so each is handed over once (at least once across a crash).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_cursors") as batch:
        batch.add_column(sa.Column("alerts_through", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_cursors") as batch:
        batch.drop_column("alerts_through")
