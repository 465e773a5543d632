"""Daily totals on SQL (``fsm.dailytotals``): read before the guards, and read again under a
per-account lock inside the transaction that commits a plan. Which rows sent a plan comes with
the check (``SentPlans``, from the run's spec set); one statement per spec set, compiled once."""

from __future__ import annotations

from functools import cache

from sqlalchemy import ColumnElement, Dialect, Engine, Select, bindparam, literal_column, select

from fsm.dailytotals import DailyCheck, DailyUsage, SentPlans, usage
from fsm.errors import DailyTotalsMoved, MachineDefinitionError
from persistence.hotpath import DriverStatement, DriverTransaction, HeldConnections, read_rows
from persistence.tables import checkpoints, ledger, runs


def _literal(name: str) -> ColumnElement[str]:
    """A state or event name written into the SQL text, so that the planner sees the events
    the index on (event, occurred_at) is searched for. Chart names are identifiers."""
    if not name.isidentifier():
        raise MachineDefinitionError(f"{name!r} is not a state or event name")
    return literal_column(f"'{name}'")


@cache
def plans_sent(sent: SentPlans) -> Select[tuple[object]]:
    """The plan checkpoints of the account's runs whose rows sent a plan that day: the rows of
    the events entering the sending state, found by event and time."""
    sending = (
        select(ledger.c.run_id)
        .join(runs, runs.c.run_id == ledger.c.run_id)
        .where(
            ledger.c.event.in_([_literal(e) for e in sent.events]),
            ledger.c.target == _literal(sent.state),
            ledger.c.occurred_at >= bindparam("d_start"),
            ledger.c.occurred_at < bindparam("d_end"),
            runs.c.account_id == bindparam("d_account"),
        )
    )
    return select(checkpoints.c.output).where(
        checkpoints.c.state == _literal(sent.plan_state), checkpoints.c.run_id.in_(sending)
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
        rows = read_rows(self.engine, plans_sent(check.sent), self._held, _values(check))
        return usage(row["output"] for row in rows)


class DailyStatement:
    """The in-transaction recount, compiled once per dialect and spec set."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.compiled: dict[SentPlans, DriverStatement] = {}
        self.lock = PG_LOCK if dialect.name == "postgresql" else None

    def plans(self, sent: SentPlans) -> DriverStatement:
        if sent not in self.compiled:
            self.compiled[sent] = DriverStatement(plans_sent(sent), self.dialect)
        return self.compiled[sent]

    def check(self, tx: DriverTransaction, check: DailyCheck) -> None:
        """Lock the account's plan commits, count again, refuse when the totals moved."""
        if self.lock is not None:
            tx.cursor.execute(self.lock, (f"tradefsm.daily:{check.account_id}",))
        plans = self.plans(check.sent)
        tx.cursor.execute(plans.sql, plans.params(_values(check)))
        found = usage(row[0] for row in tx.cursor.fetchall())
        if found != check.expected:
            raise DailyTotalsMoved(
                f"account {check.account_id}: another run committed a plan on {check.day} "
                f"meanwhile (now ${found.notional}, {found.orders} order(s)); nothing was "
                "written: the daily limits are checked again",
                run_id=None,
            )
