"""How a recorded guard decision is decided again under another risk policy, from its inputs.

A guard's decision records the inputs it compared with the policy (``fsm.limitguards``,
``fsm.guards``, ``fsm.daily``). For the guards below those inputs are the whole question: the
measured value (a plan's largest order, its total, an as_of's age) and the run's mode, so the
same comparison against another policy's value says what the guard would decide. A test runs
each rule and its guard on the same plans and limits and demands the same outcome.

Guards that read no policy key decide the same under any policy. ``UNREPLAYABLE`` names those
that read one but record too little to decide again (``symbols_allowed`` records how many
symbols it refused, not which): their decision stands when the values it recorded are the
proposed ones; otherwise replay counts it as not replayed instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

from fsm.policy import RiskPolicy
from fsm.records import Outcome

Inputs = Mapping[str, str]
# A rule: (the decision's inputs, the run's mode, the proposed policy) → (passed, why).
Rule = Callable[[Inputs, str, RiskPolicy], tuple[bool, str]]


def _at_most(measured: str, key: str, unit: str) -> Rule:
    def rule(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
        value, limit = Decimal(inputs[measured]), getattr(policy, key)
        return value <= limit, f"{measured} {unit}{value}, limit {unit}{limit} ({key})"

    return rule


def _as_of_fresh(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
    age = (date.fromisoformat(inputs["today"]) - date.fromisoformat(inputs["as_of"])).days
    limit = policy.stale_after_days
    return 0 <= age <= limit, f"as_of {age} day(s) old, allowed 0..{limit} (stale_after_days)"


def _approval_needed(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
    total, limit = Decimal(inputs["total"]), policy.approval_notional
    above = limit is not None and total > limit and mode in policy.approval_modes
    rejected = bool(inputs.get("rejecters"))
    why = f"total ${total}, approval limit {'$' + str(limit) if limit else '(none set)'}"
    if limit is not None and total > limit and not above:
        why += f", {mode} plans need no approval (approval_modes)"
    return above or rejected, why + ("; a plan of its lineage was rejected" if rejected else "")


def _approval_not_needed(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
    needed, why = _approval_needed(inputs, mode, policy)
    return not needed, why


def _execution_succeeded(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
    outcome = inputs["outcome"]
    partial_ok = outcome == Outcome.PARTIAL_SUCCESS and policy.allow_partial_success
    passed = outcome == Outcome.SUCCESS or partial_ok
    return passed, f"outcome {outcome}, allow_partial_success {policy.allow_partial_success}"


def _daily_limits(inputs: Inputs, mode: str, policy: RiskPolicy) -> tuple[bool, str]:
    notional = Decimal(inputs["sent_notional"]) + Decimal(inputs["plan_notional"])
    orders = int(inputs["sent_orders"]) + int(inputs["plan_orders"])
    bad = []
    if policy.daily_max_notional is not None and notional > policy.daily_max_notional:
        bad.append(f"notional ${notional} above the daily ${policy.daily_max_notional}")
    if policy.daily_max_orders is not None and orders > policy.daily_max_orders:
        bad.append(f"{orders} orders above the daily {policy.daily_max_orders}")
    return not bad, "; ".join(bad) or f"${notional} and {orders} order(s) that day, within"


RULES: dict[str, Rule] = {
    "max_orders": _at_most("orders", "max_orders", ""),
    "order_notional_limit": _at_most("largest", "max_order_notional", "$"),
    "total_notional_limit": _at_most("total", "max_total_notional", "$"),
    "order_qty_limit": _at_most("largest", "max_order_qty", ""),
    "as_of_fresh": _as_of_fresh,
    "approval_needed": _approval_needed,
    "approval_not_needed": _approval_not_needed,
    "execution_succeeded": _execution_succeeded,
    "daily_limits": _daily_limits,
}

# The inputs each rule needs; a decision recorded without them (the daily guard when no daily
# limit was set reads no totals) cannot be decided again.
NEEDS: dict[str, tuple[str, ...]] = {
    "max_orders": ("orders",),
    "order_notional_limit": ("largest",),
    "total_notional_limit": ("total",),
    "order_qty_limit": ("largest",),
    "as_of_fresh": ("as_of", "today"),
    "approval_needed": ("total",),
    "approval_not_needed": ("total",),
    "execution_succeeded": ("outcome",),
    "daily_limits": ("sent_notional", "plan_notional", "sent_orders", "plan_orders"),
}


def _same(inputs: Inputs, recorded: str, value: object) -> bool:
    """Whether the decision recorded ``value`` as input ``recorded`` (numbers by value)."""
    seen = inputs.get(recorded)
    if seen is None or isinstance(value, bool) or not isinstance(value, int | Decimal):
        return seen == str(value)
    return Decimal(seen) == value


Stands = Callable[[Inputs, str, RiskPolicy], bool]
# The guards that read a policy key but record too little to decide again, and when their
# decision stands all the same: the values they recorded are the proposed ones.
UNREPLAYABLE: dict[str, Stands] = {
    "symbols_allowed": lambda i, m, p: not p.allowed_symbols and i.get("refused") == "0",
    "prices_sane": lambda i, m, p: (
        _same(i, "min", p.min_price)
        and _same(i, "max", p.max_price)
        and _same(i, "max_move", p.max_price_move)
    ),
    "prices_fresh": lambda i, m, p: (
        _same(i, "limit", p.max_price_age_days) and _same(i, "exchange", p.exchange)
    ),
    "as_of_session": lambda i, m, p: _same(i, "exchange", p.exchange),
    "market_open": lambda i, m, p: _same(i, "exchange", p.exchange),
    # Recorded without totals when no daily limit was set: it stands while none is.
    "daily_limits": lambda i, m, p: p.daily_max_notional is None and p.daily_max_orders is None,
    "approval_signed": lambda i, m, p: (
        i.get("required") == str(p.require_signed_approvals or m == "live").lower()
    ),
}
