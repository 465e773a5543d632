"""The plan guards that apply the risk policy's limits (``fsm.limits``): each decision's
inputs name the limit and where it came from (``source``: a policy version or a setting)."""

from __future__ import annotations

from decimal import Decimal

from fsm.guardcontext import GuardContext, decision, limits_of, plan_of
from fsm.records import GuardDecision


def max_orders(ctx: GuardContext) -> GuardDecision:
    lim = limits_of(ctx)
    n, limit = len(plan_of(ctx).trades), lim.values.max_orders
    return decision("max_orders", n <= limit, f"{n} order(s), limit {limit}", orders=n,
                    limit=limit, source=lim.source("max_orders"))  # fmt: skip


def order_notional_limit(ctx: GuardContext) -> GuardDecision:
    lim = limits_of(ctx)
    largest = max((abs(i.amount) for i in plan_of(ctx).trades), default=Decimal(0))
    limit = lim.values.max_order_notional
    return decision("order_notional_limit", largest <= limit,
                    f"largest order ${largest}, limit ${limit}", largest=largest, limit=limit,
                    source=lim.source("max_order_notional"))  # fmt: skip


def total_notional_limit(ctx: GuardContext) -> GuardDecision:
    lim = limits_of(ctx)
    total, limit = plan_of(ctx).notional, lim.values.max_total_notional
    return decision("total_notional_limit", total <= limit, f"total ${total}, limit ${limit}",
                    total=total, limit=limit, source=lim.source("max_total_notional"))  # fmt: skip


def order_qty_limit(ctx: GuardContext) -> GuardDecision:
    lim = limits_of(ctx)
    largest = max((abs(i.qty) for i in plan_of(ctx).trades), default=Decimal(0))
    limit = lim.values.max_order_qty
    return decision("order_qty_limit", largest <= limit,
                    f"largest order {largest} shares, limit {limit}", largest=largest,
                    limit=limit, source=lim.source("max_order_qty"))  # fmt: skip


def symbols_allowed(ctx: GuardContext) -> GuardDecision:
    lim = limits_of(ctx)
    allowed = set(lim.values.allowed_symbols)
    traded = sorted({i.symbol for i in plan_of(ctx).trades})
    bad = [s for s in traded if allowed and s not in allowed]
    reason = "every symbol allowed" if not bad else f"not on the allow-list: {bad[:5]}"
    return decision("symbols_allowed", not bad, reason, symbols=len(traded), refused=len(bad),
                    source=lim.source("allowed_symbols"))  # fmt: skip


def approval_needed(ctx: GuardContext) -> GuardDecision:
    """A plan above the policy's approval_notional waits for a person in the policy's
    approval_modes; so does the retry of a rejected plan, whatever its notional."""
    lim = limits_of(ctx)
    total, limit = plan_of(ctx).notional, lim.values.approval_notional
    modes = lim.values.approval_modes
    rejecters = ctx.lineage.rejecters if ctx.lineage else ()
    above = limit is not None and total > limit and ctx.mode.value in modes
    reason = (f"total ${total} above the approval limit ${limit}" if above
              else f"total ${total} within the approval limit {limit or '(none set)'}")  # fmt: skip
    if limit is not None and total > limit and not above:
        reason = f"total ${total} above the approval limit ${limit}, but {ctx.mode.value} " \
                 f"plans need no approval (approval_modes {','.join(modes)})"  # fmt: skip
    if rejecters:
        reason += f"; a plan of this run's lineage was rejected by {', '.join(rejecters)}"
    lineage = ctx.lineage.inputs() if ctx.lineage else {}
    return decision("approval_needed", above or bool(rejecters), reason, total=total,
                    limit=limit or "", source=lim.source("approval_notional"),
                    **lineage)  # fmt: skip


def approval_not_needed(ctx: GuardContext) -> GuardDecision:
    needed = approval_needed(ctx)
    return needed.model_copy(update={"name": "approval_not_needed", "passed": not needed.passed})
