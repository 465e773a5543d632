"""Audit: the history of every order intent (append-only) and indexes for audit queries.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import DecimalText, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intent_events",
        sa.Column("client_order_id", sa.String(length=48), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled_qty", DecimalText(), nullable=True),
        sa.Column("avg_price", DecimalText(), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["order_intents.client_order_id"],
            name=op.f("fk_intent_events_client_order_id_order_intents"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_intent_events_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("client_order_id", "n", name=op.f("pk_intent_events")),
    )
    op.create_index("ix_intent_events_run_id", "intent_events", ["run_id"], unique=False)
    op.create_index("ix_ledger_actor_occurred_at", "ledger", ["actor", "occurred_at"], unique=False)
    op.create_index("ix_ledger_event_occurred_at", "ledger", ["event", "occurred_at"], unique=False)
    op.create_index(
        "ix_ledger_refused",
        "ledger",
        ["occurred_at"],
        unique=False,
        sqlite_where=sa.text("accepted = 0"),
        postgresql_where=sa.text("accepted = false"),
    )
    op.create_index(
        "ix_runs_account_id_created_at", "runs", ["account_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_runs_definition_hash_created_at",
        "runs",
        ["definition_hash", "created_at"],
        unique=False,
    )
    append_only.create(op.get_bind(), ["intent_events"])


def downgrade() -> None:
    append_only.drop(op.get_bind(), ["intent_events"])
    op.drop_index("ix_runs_definition_hash_created_at", table_name="runs")
    op.drop_index("ix_runs_account_id_created_at", table_name="runs")
    op.drop_index(
        "ix_ledger_refused",
        table_name="ledger",
        sqlite_where=sa.text("accepted = 0"),
        postgresql_where=sa.text("accepted = false"),
    )
    op.drop_index("ix_ledger_event_occurred_at", table_name="ledger")
    op.drop_index("ix_ledger_actor_occurred_at", table_name="ledger")
    op.drop_index("ix_intent_events_run_id", table_name="intent_events")
    op.drop_table("intent_events")
