"""Triggers that refuse rows no release of tradefsm writes (persistence.constraints).

A ledger row of the legacy scheme 1, or of an older scheme than its run's previous row, is
refused (SQLite and PostgreSQL); on PostgreSQL an order intent inserted without an event of
its history is refused at commit (a deferred constraint trigger).

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

from alembic import op

from persistence import constraints

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    constraints.create(op.get_bind())


def downgrade() -> None:
    constraints.drop(op.get_bind())
