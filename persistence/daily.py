"""Daily totals on SQL (``fsm.dailytotals``): read before the guards, and read again under a
per-account lock inside the transaction that commits a plan."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Dialect, Engine, bindparam, literal_column, select

from fsm.dailytotals import ENTERED, PLANNED, DailyCheck, DailyUsage, usage
from fsm.definition import trading_definition
from fsm.errors import DailyTotalsMoved
from persistence.hotpath import DriverStatement, DriverTransaction, HeldConnections, read_rows
from persistence.tables import checkpoints, ledger, runs

# The events that enter executing (an index on event and time finds them), by account and day;
# literal in the SQL text so the index's planner sees them.
_INTO_EXECUTING = sorted(
    {t.event for t in trading_definition().transitions.values() if t.target == ENTERED}
)


def _literal(name: str) -> ColumnElement[str]:
    return literal_column(f"'{name}'")


_ENTERED = (
    select(ledger.c.run_id)
    .join(runs, runs.c.run_id == ledger.c.run_id)
    .where(
        ledger.c.event.in_([_literal(e) for e in _INTO_EXECUTING]),
        ledger.c.target == _literal(ENTERED),
        ledger.c.occurred_at >= bindparam("d_start"),
        ledger.c.occurred_at < bindparam("d_end"),
        runs.c.account_id == bindparam("d_account"),
    )
)
PLANS = select(checkpoints.c.output).where(
    checkpoints.c.state == _literal(PLANNED), checkpoints.c.run_id.in_(_ENTERED)
)
# PostgreSQL: held until the transaction ends; every plan commit of the account takes it.
PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def _values(check: DailyCheck) -> dict[str, object]:
    return {"d_account": check.account_id, "d_start": check.start, "d_end": check.end}


class DailyTotals:
    """The daily-totals part of the SQL run store (``SqlRunStore`` is one)."""

    engine: Engine
    _held: HeldConnections | None

    def daily_usage(self, check: DailyCheck) -> DailyUsage:
        rows = read_rows(self.engine, PLANS, self._held, _values(check))
        return usage(row["output"] for row in rows)


class DailyStatement:
    """The in-transaction recount, compiled once per dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.plans = DriverStatement(PLANS, dialect)
        self.lock = PG_LOCK if dialect.name == "postgresql" else None

    def check(self, tx: DriverTransaction, check: DailyCheck) -> None:
        """Lock the account's plan commits, count again, refuse when the totals moved."""
        if self.lock is not None:
            tx.cursor.execute(self.lock, (f"tradefsm.daily:{check.account_id}",))
        tx.cursor.execute(self.plans.sql, self.plans.params(_values(check)))
        found = usage(row[0] for row in tx.cursor.fetchall())
        if found != check.expected:
            raise DailyTotalsMoved(
                f"account {check.account_id}: another run committed a plan on {check.day} "
                f"meanwhile (now ${found.notional}, {found.orders} order(s)); nothing was "
                "written: the daily limits are checked again",
                run_id=None,
            )
