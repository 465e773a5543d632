"""A run's inputs for people: one row per symbol, from its checkpoints and its orders.

The analysis checkpoint gives each symbol's price, the price's date, the previous close, the
target weight and the position; the plan gives its current and target value and the order
(side, quantity, amount); the run's order intents give how the order ended. Money is
formatted (``$12,375.00``), weights and moves are percentages, and the table has totals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from fsm import display
from fsm.machines.names import TradingState as S
from fsm.pluginrecords import Side
from fsm.records import AllocationAnalysis, PlanItem, RebalancePlan

ANALYSIS, PLAN = S.ANALYZING, S.PLANNING  # the states whose checkpoints hold them
ZERO = Decimal(0)


def by_symbol(details: dict[str, Any]) -> dict[str, Any] | None:
    """The table for ``details`` (``fsm.views.run_details``); None before any analysis."""
    outputs = {c["state"]: c["output"] for c in details["checkpoints"]}  # the last per state
    analysis = _read(AllocationAnalysis, outputs.get(ANALYSIS))
    plan = _read(RebalancePlan, outputs.get(PLAN))
    if analysis is None:
        return None
    items = {i.symbol: i for i in plan.items} if plan else {}
    orders = {o["symbol"]: o for o in details["orders"]}
    symbols = sorted({*analysis.prices, *analysis.target_weights, *analysis.positions, *items})
    rows = [_row(s, analysis, items.get(s), orders.get(s)) for s in symbols]
    return {"rows": rows, "totals": _totals(analysis, items),
            "portfolio_value": display.money(analysis.portfolio_value),
            "cash": display.money(analysis.cash), "planned": plan is not None}  # fmt: skip


def _read(model: Any, output: dict[str, Any] | None) -> Any:
    if output is None:
        return None
    try:
        return model.model_validate(output)
    except ValidationError:  # a checkpoint of another schema: its raw table stays below
        return None


def _row(symbol: str, analysis: AllocationAnalysis, item: PlanItem | None,
         order: dict[str, Any] | None) -> dict[str, str]:  # fmt: skip
    price, previous = analysis.prices.get(symbol), analysis.previous_prices.get(symbol)
    day = analysis.price_dates.get(symbol)
    return {
        "symbol": symbol,
        "price": display.money(price),
        "date": day.isoformat() if day else "",
        "stale": "stale" if day and day < analysis.as_of else "",
        "previous": display.money(previous),
        "move": display.change(price, previous),
        "weight": display.percent(analysis.target_weights.get(symbol)),
        "current": display.money(_current(symbol, analysis, item)),
        "target": display.money(item.target_value) if item else "",
        "order": _order(item),
        "status": order["status"] if order else "",
    }


def _order(item: PlanItem | None) -> str:
    if item is None:
        return ""
    if item.action is Side.HOLD:
        return "hold"
    return f"{item.action.value} {item.qty.normalize():f} × {display.money(item.price)} = " \
           f"{display.money(abs(item.amount))}"  # fmt: skip


def _current(symbol: str, analysis: AllocationAnalysis, item: PlanItem | None) -> Decimal:
    """What the account holds of the symbol: the plan's figure, else position × price."""
    if item is not None:
        return item.current_value
    return analysis.positions.get(symbol, ZERO) * analysis.prices.get(symbol, ZERO)


def _totals(analysis: AllocationAnalysis, items: dict[str, PlanItem]) -> dict[str, str]:
    def moved(side: Side) -> Decimal:
        return sum((abs(i.amount) for i in items.values() if i.action is side), ZERO)

    symbols = {*analysis.positions, *items}
    current = sum((_current(s, analysis, items.get(s)) for s in symbols), ZERO)
    target = sum((i.target_value for i in items.values()), ZERO)
    return {
        "weight": display.percent(sum(analysis.target_weights.values(), ZERO)),
        "current": display.money(current),
        "target": display.money(target) if items else "",
        "buy": display.money(moved(Side.BUY)),
        "sell": display.money(moved(Side.SELL)),
    }
