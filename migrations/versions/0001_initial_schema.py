"""Initial schema: runs, the append-only ledger, checkpoints, order intents, definitions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from persistence import append_only
from persistence.types import DecimalText, JsonDocument, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The ledger and the checkpoints are history: the database itself refuses UPDATE and DELETE.
APPEND_ONLY_TABLES = ("ledger", "checkpoints")


def upgrade() -> None:
    op.create_table(
        "definitions",
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("canonical", JsonDocument, nullable=False),
        sa.Column("mermaid", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("definition_hash", name=op.f("pk_definitions")),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_run_id", sa.String(length=64), nullable=True),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("deadline_at", UtcDateTime(), nullable=True),
        sa.Column("params", JsonDocument, nullable=False),
        sa.Column("result", JsonDocument, nullable=True),
        sa.Column("failure", JsonDocument, nullable=True),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_hash"],
            ["definitions.definition_hash"],
            name=op.f("fk_runs_definition_hash_definitions"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"], ["runs.run_id"], name=op.f("fk_runs_parent_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_runs_idempotency_key")),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"], unique=False)
    op.create_index("ix_runs_state", "runs", ["state"], unique=False)
    op.create_index(
        "uq_runs_active_account",
        "runs",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("output", JsonDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_checkpoints_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "ledger",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("target", sa.String(length=32), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("guards", JsonDocument, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("causation_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_ledger_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_ledger")),
    )
    op.create_index("ix_ledger_occurred_at", "ledger", ["occurred_at"], unique=False)
    op.create_table(
        "order_intents",
        sa.Column("client_order_id", sa.String(length=48), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("qty", DecimalText(), nullable=False),
        sa.Column("reference_price", DecimalText(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled_qty", DecimalText(), nullable=True),
        sa.Column("avg_price", DecimalText(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_order_intents_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_order_intents")),
    )
    op.create_index("ix_order_intents_run_id", "order_intents", ["run_id"], unique=False)
    append_only.create(op.get_bind(), APPEND_ONLY_TABLES)


def downgrade() -> None:
    append_only.drop(op.get_bind(), APPEND_ONLY_TABLES)
    append_only.drop_function(op.get_bind())
    op.drop_index("ix_order_intents_run_id", table_name="order_intents")
    op.drop_table("order_intents")
    op.drop_index("ix_ledger_occurred_at", table_name="ledger")
    op.drop_table("ledger")
    op.drop_table("checkpoints")
    op.drop_index(
        "uq_runs_active_account",
        table_name="runs",
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index("ix_runs_state", table_name="runs")
    op.drop_index("ix_runs_created_at", table_name="runs")
    op.drop_table("runs")
    op.drop_table("definitions")
