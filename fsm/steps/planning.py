"""The rebalance planner (pure), following DOMAIN.md §2."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from fsm.pluginrecords import Side
from fsm.records import AllocationAnalysis, PlanItem, RebalancePlan

CENTS = Decimal("0.01")
QTY_PLACES = Decimal("0.000001")  # fractional shares, as the paper broker allows
MIN_BUY_NOTIONAL = Decimal(1)
PRIORITY_BANDS = (Decimal(10_000), Decimal(1_000), Decimal(100), Decimal(50))
ACTION_ORDER = {Side.SELL: 0, Side.BUY: 1, Side.HOLD: 2}


def priority(amount: Decimal) -> int:
    """1 for trades of $10k or more ... 5 for trades under $50."""
    size = abs(amount)
    return next((n for n, band in enumerate(PRIORITY_BANDS, 1) if size >= band), 5)


def plan_rebalance(
    analysis: AllocationAnalysis, cash_reserve: Decimal, min_trade_fraction: Decimal
) -> RebalancePlan:
    pv = analysis.portfolio_value
    effective = pv * (1 - cash_reserve)
    min_trade = (pv * min_trade_fraction).quantize(CENTS, rounding=ROUND_HALF_UP)
    items = [
        _item(symbol, analysis, effective, min_trade)
        for symbol in sorted(set(analysis.target_weights) | set(analysis.positions))
    ]
    items = _fit_buys(items, analysis.buying_power, min_trade)
    items.sort(key=lambda i: (ACTION_ORDER[i.action], -abs(i.amount), i.symbol))
    return RebalancePlan(
        as_of=analysis.as_of,
        portfolio_value=pv,
        buying_power=analysis.buying_power,
        min_trade_amount=min_trade,
        items=tuple(items),
        price_dates=analysis.price_dates,
    )


def _item(
    symbol: str, analysis: AllocationAnalysis, effective: Decimal, min_trade: Decimal
) -> PlanItem:
    price = analysis.prices[symbol]
    held = analysis.positions.get(symbol, Decimal(0))
    weight = analysis.target_weights.get(symbol, Decimal(0))
    target = (weight * effective).quantize(CENTS, rounding=ROUND_HALF_UP)
    current = (held * price).quantize(CENTS, rounding=ROUND_HALF_UP)
    amount = target - current
    action = Side.BUY if amount > 0 else Side.SELL if amount < 0 else Side.HOLD
    if abs(amount) < min_trade or (action is Side.BUY and amount < MIN_BUY_NOTIONAL):
        action = Side.HOLD
    qty = _quantity(action, amount, price, held, weight)
    if action is not Side.HOLD and qty == 0:
        action = Side.HOLD
    return PlanItem(
        symbol=symbol,
        action=action,
        target_value=target,
        current_value=current,
        amount=amount,
        qty=qty,
        price=price,
        priority=priority(amount),
    )


def _quantity(
    action: Side, amount: Decimal, price: Decimal, held: Decimal, weight: Decimal
) -> Decimal:
    if action is Side.HOLD:
        return Decimal(0)
    if action is Side.SELL and weight == 0:
        return held  # a sell to weight 0 closes the whole position
    qty = (abs(amount) / price).quantize(QTY_PLACES, rounding=ROUND_DOWN)
    return min(qty, held) if action is Side.SELL else qty


def _fit_buys(items: list[PlanItem], buying_power: Decimal, min_trade: Decimal) -> list[PlanItem]:
    """Scale BUYs down when they would need more than buying power plus SELL proceeds.

    Suppressed micro-SELLs leave money invested that the targets counted as freed, so the raw
    BUYs can overshoot the cash available by a little; the plan must fit the account.
    """
    buys = sum((i.amount for i in items if i.action is Side.BUY), Decimal(0))
    sells = sum((-i.amount for i in items if i.action is Side.SELL), Decimal(0))
    available = max(buying_power + sells, Decimal(0))
    if buys <= available:
        return items
    ratio = available / buys
    return [_scaled(i, ratio, min_trade) if i.action is Side.BUY else i for i in items]


def _scaled(item: PlanItem, ratio: Decimal, min_trade: Decimal) -> PlanItem:
    amount = (item.amount * ratio).quantize(CENTS, rounding=ROUND_DOWN)
    qty = (amount / item.price).quantize(QTY_PLACES, rounding=ROUND_DOWN)
    if amount < max(min_trade, MIN_BUY_NOTIONAL) or qty == 0:
        return item.model_copy(update={"action": Side.HOLD, "qty": Decimal(0)})
    return item.model_copy(update={"amount": amount, "qty": qty, "priority": priority(amount)})
