"""What an account sent per trading day: the totals the ``daily_limits`` guard reads, and the
check the store repeats inside the transaction that commits the plan (``fsm.daily``).

Which rows send a plan is not the trading chart's to say: the spec set derives it
(``SpecSet.sent_plans``) from the state whose spec says that entering it sends a plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fsm.records import RebalancePlan


@dataclass(frozen=True)
class SentPlans:
    """Which ledger rows send a plan: the accepted rows of one of ``events`` (every event of
    the chart entering ``state``) that enter ``state``; the plan sent is the run's checkpoint
    of ``plan_state``. A store finds the rows by event and time (its index on both)."""

    state: str
    events: tuple[str, ...]
    plan_state: str

    def sends(self, event: str, target: str | None) -> bool:
        return target == self.state and event in self.events


@dataclass(frozen=True)
class DailyUsage:
    notional: Decimal = Decimal(0)
    orders: int = 0


@dataclass(frozen=True)
class DailyCheck:
    """The totals a guard read for ``account_id`` on the day [start, end): the store counts
    again in the committing transaction and refuses the commit when they differ."""

    account_id: str
    day: date
    expected: DailyUsage
    sent: SentPlans  # which rows count, from the run's spec set

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def usage(plans: Iterable[Any]) -> DailyUsage:
    """The totals of plan checkpoints (their stored JSON, or text of it)."""
    notional, orders = Decimal(0), 0
    for output in plans:
        plan = RebalancePlan.model_validate_json(output) if isinstance(output, str) else (
            RebalancePlan.model_validate(output))  # fmt: skip
        notional += plan.notional
        orders += len(plan.trades)
    return DailyUsage(notional, orders)
