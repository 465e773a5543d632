"""What-if replay of a strategy change: the plans a proposed strategy would have made.

For each run that recorded a plan, the proposed strategy generates its targets from a
context rebuilt from the run's recorded inputs (its account, mode and market date); the
market data it is given serves only the prices that checkpoint recorded, so nothing is
fetched. The real analysis and planning functions then run on the recorded account and
prices with the new targets, and each recorded plan-guard decision is decided again
(``fsm.replayrules``) on the new plan's figures under the proposed policy. A run whose
strategy needs what was not recorded is reported as not replayed, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fsm.errors import NotRecorded, TradeFsmError
from fsm.kinds import Mode
from fsm.pluginrecords import AccountSnapshot, Position, PriceSnapshot, SignalSet
from fsm.ports import RunContext, SignalSource
from fsm.records import AllocationAnalysis, RebalancePlan
from fsm.replay import ChangedDecision, PolicyOf, RecordedTransition
from fsm.replayrules import RULES
from fsm.steps.analysis import analyse
from fsm.steps.planning import plan_rebalance

PLAN_GUARDS = ("max_orders", "order_notional_limit", "total_notional_limit", "order_qty_limit",
               "approval_needed", "approval_not_needed")  # fmt: skip
# (the run's market date, its recorded prices as market data) → the proposed strategy
StrategyOf = Callable[[date, "RecordedPrices"], SignalSource]


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """A run's recorded inputs (its analysis checkpoint) and the plan it made."""

    run_id: str
    account_id: str
    mode: str
    as_of: date
    analysis: AllocationAnalysis
    plan: RebalancePlan


class RecordedPrices:
    """The ``MarketData`` port over one run's recorded prices: a symbol it did not record
    raises NotRecorded instead of being fetched."""

    def __init__(self, analysis: AllocationAnalysis) -> None:
        self.analysis = analysis

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        recorded = self.analysis
        missing = sorted(set(symbols) - set(recorded.prices))
        if missing or as_of != recorded.as_of:
            raise NotRecorded(f"no recorded price of {', '.join(missing) or 'that day'}")
        return PriceSnapshot(
            as_of=as_of,
            prices={s: recorded.prices[s] for s in symbols},
            dates={s: d for s, d in recorded.price_dates.items() if s in symbols},
            previous={s: p for s, p in recorded.previous_prices.items() if s in symbols},
            source=recorded.market_data,
        )


@dataclass
class PlanReplay:
    """One run replayed: the orders that change (symbol → side and qty, old and new) and the
    plan-guard decisions that change, or why it was not replayed."""

    run: RecordedRun
    reason: str | None = None
    added: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    removed: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    changed: dict[str, tuple[tuple[str, Decimal], tuple[str, Decimal]]] = field(
        default_factory=dict
    )
    guards: list[ChangedDecision] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.guards)

    def as_json(self) -> dict[str, Any]:
        def order(symbol: str, side_qty: tuple[str, Decimal]) -> dict[str, str]:
            return {"symbol": symbol, "side": side_qty[0], "qty": str(side_qty[1])}

        return {
            "run_id": self.run.run_id,
            "account_id": self.run.account_id,
            "replayed": self.reason is None,
            "reason": self.reason,
            "added": [order(s, o) for s, o in self.added.items()],
            "removed": [order(s, o) for s, o in self.removed.items()],
            "changed": [
                {"symbol": s, "was": order(s, w), "now": order(s, n)}
                for s, (w, n) in self.changed.items()
            ],
            "guards": [g.as_json() for g in self.guards],
        }


@dataclass(frozen=True)
class Planning:
    """The settings the planning step reads."""

    cash_reserve: Decimal
    min_trade_fraction: Decimal


def replay_plans(runs: Iterable[RecordedRun],
                 decisions: Mapping[str, Sequence[RecordedTransition]],
                 strategy_of: StrategyOf, planning: Planning,
                 policy_of: PolicyOf) -> list[PlanReplay]:  # fmt: skip
    """Each of ``runs`` planned again with the proposed strategy (``decisions``: each run's
    recorded transitions with guard decisions)."""
    return [_replay(r, decisions.get(r.run_id, ()), strategy_of, planning, policy_of)
            for r in runs]  # fmt: skip


def _replay(run: RecordedRun, transitions: Sequence[RecordedTransition], strategy_of: StrategyOf,
            planning: Planning, policy_of: PolicyOf) -> PlanReplay:  # fmt: skip
    try:
        plan = new_plan(run, strategy_of, planning)
    except TradeFsmError as exc:
        return PlanReplay(run, reason=str(exc).splitlines()[0])
    result = PlanReplay(run)
    _diff(result, _orders(run.plan), _orders(plan))
    policy = policy_of(run.account_id, run.mode)
    for transition in transitions:
        for recorded in transition.decisions:
            name = recorded["name"]
            if name not in PLAN_GUARDS:
                continue
            inputs = {**(recorded.get("inputs") or {}), **_figures(name, plan)}
            passed, reason = RULES[name](inputs, run.mode, policy)
            if passed != bool(recorded["passed"]):
                result.guards.append(ChangedDecision(transition, name,
                                                     str(recorded.get("reason", "")), inputs,
                                                     passed, reason))  # fmt: skip
    return result


def new_plan(run: RecordedRun, strategy_of: StrategyOf, planning: Planning) -> RebalancePlan:
    """The plan the proposed strategy makes on ``run``'s recorded account and prices."""
    recorded = run.analysis
    market = RecordedPrices(recorded)
    ctx = RunContext(run.run_id, run.account_id, run.as_of, Mode(run.mode))
    signals: SignalSet = strategy_of(run.as_of, market).generate(ctx)
    account = AccountSnapshot(
        account_id=run.account_id, cash=recorded.cash, buying_power=recorded.buying_power,
        positions=tuple(Position(symbol=s, qty=q) for s, q in recorded.positions.items()),
    )  # fmt: skip
    symbols = sorted({t.symbol for t in signals.targets} | set(recorded.positions))
    analysis = analyse(signals, account, market.prices(symbols, run.as_of),
                       recorded.drift_threshold)  # fmt: skip
    if not analysis.rebalance_needed:
        return RebalancePlan(as_of=run.as_of, portfolio_value=analysis.portfolio_value,
                             buying_power=recorded.buying_power, min_trade_amount=Decimal(0),
                             items=())  # fmt: skip
    return plan_rebalance(analysis, planning.cash_reserve, planning.min_trade_fraction)


def _orders(plan: RebalancePlan) -> dict[str, tuple[str, Decimal]]:
    return {i.symbol: (i.action.value, i.qty) for i in plan.trades}


def _diff(result: PlanReplay, old: dict[str, tuple[str, Decimal]],
          new: dict[str, tuple[str, Decimal]]) -> None:  # fmt: skip
    result.added = {s: o for s, o in sorted(new.items()) if s not in old}
    result.removed = {s: o for s, o in sorted(old.items()) if s not in new}
    result.changed = {s: (old[s], new[s]) for s in sorted(old.keys() & new.keys())
                      if old[s] != new[s]}  # fmt: skip


def _figures(name: str, plan: RebalancePlan) -> dict[str, str]:
    """The inputs of plan guard ``name`` the new plan measures (as ``fsm.limitguards`` does)."""
    trades = plan.trades
    if name == "max_orders":
        return {"orders": str(len(trades))}
    if name == "order_notional_limit":
        return {"largest": str(max((abs(i.amount) for i in trades), default=Decimal(0)))}
    if name == "order_qty_limit":
        return {"largest": str(max((abs(i.qty) for i in trades), default=Decimal(0)))}
    return {"total": str(plan.notional)}


def summary(replays: Sequence[PlanReplay]) -> dict[str, int]:
    """How many runs were planned again, how many plans would change, how many were not."""
    done = [r for r in replays if r.reason is None]
    return {"runs": len(replays), "replayed": len(done),
            "not_replayed": len(replays) - len(done),
            "plans_changed": sum(1 for r in done if r.added or r.removed or r.changed),
            "guards_changed": sum(len(r.guards) for r in done)}  # fmt: skip
