"""The ``daily_limits`` guard: what an account sent per trading day, with the plan at hand.

An account's usage on a day is every plan of its runs sent that day (UTC): a plan is sent by
the row entering the state whose spec says so (``StateSpec.sends_plan``; ``executing`` in the
trading specs), by whichever event of the chart enters it; usage is their notional and their
number of orders. The ``daily_limits`` guard adds the plan at hand and compares with the
policy's ``daily_max_notional`` and ``daily_max_orders``; its inputs are the running totals it
read. The store counts again inside the transaction that commits the plan, after a lock that
serialises the account's plan commits (PostgreSQL: a transaction-level advisory lock; SQLite:
its single writer), and refuses the commit (``DailyTotalsMoved``) when another run's plan
committed meanwhile; the driver then reads the totals and evaluates the guards again. Two
racing runs cannot both pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from fsm.dailytotals import DailyCheck, DailyUsage, SentPlans
from fsm.errors import DailyTotalsMoved
from fsm.guardcontext import GuardContext, decision, limits_of, plan_of
from fsm.limits import Limits
from fsm.ports import RunStore
from fsm.records import GuardDecision

GUARD = "daily_limits"
RECOUNTS = 20  # racing plan commits of one account: each retry follows another's commit


def daily_limits(ctx: GuardContext) -> GuardDecision:
    """The day's notional and orders sent by the account, with this plan, within the policy."""
    lim, plan, check = limits_of(ctx), plan_of(ctx), ctx.daily
    max_notional, max_orders = lim.values.daily_max_notional, lim.values.daily_max_orders
    if check is None:
        return decision(GUARD, True, "no daily limit set", source=lim.source("daily_max_orders"))
    used = check.expected
    notional, orders = used.notional + plan.notional, used.orders + len(plan.trades)
    bad = []
    if max_notional is not None and notional > max_notional:
        bad.append(f"notional ${notional} above the daily ${max_notional}")
    if max_orders is not None and orders > max_orders:
        bad.append(f"{orders} orders above the daily {max_orders}")
    reason = "; ".join(bad) or f"${notional} and {orders} order(s) today, within the limits"
    return decision(GUARD, not bad, f"{reason} ({check.account_id}, {check.day})",
                    day=check.day, sent_notional=used.notional, sent_orders=used.orders,
                    plan_notional=plan.notional, plan_orders=len(plan.trades),
                    limit_notional=max_notional or "", limit_orders=max_orders or "",
                    source_notional=lim.source("daily_max_notional"),
                    source_orders=lim.source("daily_max_orders"))  # fmt: skip


def daily_check(store: RunStore, limits: Limits, account_id: str, day: date,
                guards: tuple[str, ...], sent: SentPlans | None) -> DailyCheck | None:  # fmt: skip
    """The account's totals on ``day`` for a transition with the daily guard, when the policy
    sets a daily limit (none set: nothing is read, nothing locked) and the spec set says which
    rows send a plan (``sent``)."""
    values = limits.values
    if GUARD not in guards or sent is None or (
            values.daily_max_notional is None and values.daily_max_orders is None):  # fmt: skip
        return None
    probe = DailyCheck(account_id, day, DailyUsage(), sent)
    return replace(probe, expected=store.daily_usage(probe))


def recounting(commit: Callable[[], None]) -> None:
    """Run ``commit`` (guards, then the commit), again while another run's plan commit moved
    the day's totals under it."""
    for _ in range(RECOUNTS - 1):
        try:
            commit()
        except DailyTotalsMoved:
            continue
        return
    commit()
