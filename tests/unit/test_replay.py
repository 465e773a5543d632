"""Replay decides a recorded decision again as its guard would: the same policy changes
nothing, another policy changes exactly the decisions the guard itself would decide otherwise."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fsm.daily import daily_limits
from fsm.dailytotals import DailyCheck, DailyUsage
from fsm.guardcontext import Guard, GuardContext
from fsm.guards import as_of_fresh, execution_succeeded
from fsm.kinds import Mode
from fsm.limitguards import (
    approval_needed,
    approval_not_needed,
    max_orders,
    order_notional_limit,
    order_qty_limit,
    total_notional_limit,
)
from fsm.limits import Limits
from fsm.machines.specs import TRADING_SPECS
from fsm.pluginrecords import Side
from fsm.policy import KEYS, RiskPolicy
from fsm.records import ExecutionReport, GuardDecision, Outcome, PlanItem, RebalancePlan
from fsm.replay import RecordedTransition, replay
from fsm.replayrules import RULES
from fsm.settings import Settings

SENT = TRADING_SPECS.sent_plans
assert SENT is not None

DAY = date(2026, 11, 27)
PLAN_GUARDS: tuple[Guard, ...] = (max_orders, order_notional_limit, total_notional_limit,
                                  order_qty_limit, approval_needed, approval_not_needed,
                                  daily_limits)  # fmt: skip
amounts = st.decimals(min_value=-5000, max_value=5000, places=2).filter(lambda d: d != 0)
limits = st.decimals(min_value=1, max_value=6000, places=2)
policies = st.builds(
    RiskPolicy,
    max_orders=st.integers(1, 6),
    max_order_notional=limits,
    max_total_notional=limits,
    max_order_qty=limits,
    approval_notional=st.none() | limits,
    approval_modes=st.sampled_from([("live", "paper"), ("live",)]),
    allow_partial_success=st.booleans(),
    stale_after_days=st.integers(0, 6),
    daily_max_notional=st.none() | limits,
)


def _plan(trades: list[Decimal]) -> RebalancePlan:
    return RebalancePlan(
        as_of=DAY, portfolio_value=Decimal(10000), buying_power=Decimal(10000),
        min_trade_amount=Decimal(1),
        items=tuple(
            PlanItem(symbol=f"S{n}", action=Side.BUY if a > 0 else Side.SELL,
                     target_value=Decimal(0), current_value=Decimal(0), amount=a,
                     qty=abs(a) / 10, price=Decimal(10), priority=1)
            for n, a in enumerate(trades)
        ),
    )  # fmt: skip


def _decisions(policy: RiskPolicy, plan: RebalancePlan, age: int,
               outcome: Outcome) -> list[GuardDecision]:  # fmt: skip
    """What the guards decide on ``plan``, a run ``age`` days old and an execution outcome."""
    lim = Limits(policy, dict.fromkeys(KEYS, "policy v1"))
    daily = DailyCheck("acct", DAY, DailyUsage(Decimal(700), 2), SENT)
    if policy.daily_max_notional is None:
        daily = None  # the engine reads no totals when no daily limit is set
    ctx = GuardContext(Settings(), Mode.PAPER, DAY - timedelta(days=age), DAY, plan, limits=lim,
                       daily=daily)  # fmt: skip
    report = ExecutionReport(
        orders=(), placed=2, succeeded=1, trades_required=True, outcome=outcome
    )
    return [*(g(ctx) for g in PLAN_GUARDS), as_of_fresh(ctx),
            execution_succeeded(GuardContext(Settings(), Mode.PAPER, DAY, DAY, report,
                                             limits=lim))]  # fmt: skip


def _recorded(decisions: list[GuardDecision]) -> RecordedTransition:
    dumped = [d.model_dump() for d in decisions]
    return RecordedTransition("run_1", 5, "plan_approved", "planning", "acct", "paper", dumped)


history = st.tuples(st.lists(amounts, min_size=1, max_size=6), st.integers(-1, 8),
                    st.sampled_from(list(Outcome)))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(policy=policies, recorded=history)
def test_the_same_policy_never_changes_a_decision(policy: RiskPolicy, recorded: tuple) -> None:
    trades, age, outcome = recorded
    made = _recorded(_decisions(policy, _plan(trades), age, outcome))
    report = replay([made], lambda account, mode: policy)
    assert report.changes == []
    assert report.replayed == len(made.decisions) - (policy.daily_max_notional is None)


@settings(max_examples=300, deadline=None)
@given(old=policies, new=policies, recorded=history)
def test_another_policy_changes_what_the_guards_would_decide_otherwise(
    old: RiskPolicy, new: RiskPolicy, recorded: tuple
) -> None:
    trades, age, outcome = recorded
    plan = _plan(trades)
    before, after = _decisions(old, plan, age, outcome), _decisions(new, plan, age, outcome)
    report = replay([_recorded(before)], lambda account, mode: new)
    replayable = old.daily_max_notional is not None or new.daily_max_notional is None
    expected = {(b.name, a.passed) for b, a in zip(before, after, strict=True)
                if b.passed != a.passed and (b.name != "daily_limits" or replayable)}  # fmt: skip
    assert {(c.guard, c.passed) for c in report.changes} == expected
    assert set(report.not_replayed) == ({"daily_limits"} if not replayable else set())


def test_every_rule_is_checked_against_its_guard() -> None:
    checked = {g.__name__ for g in PLAN_GUARDS} | {"as_of_fresh", "execution_succeeded"}
    assert checked == set(RULES)


def test_a_change_names_run_guard_old_and_new_outcome_and_the_inputs() -> None:
    policy = RiskPolicy(max_order_notional=Decimal(1000))
    made = _recorded(_decisions(RiskPolicy(), _plan([Decimal(2500)]), 0, Outcome.SUCCESS))
    (change,) = replay([made], lambda account, mode: policy).changes
    shown = change.as_json()
    assert {k: shown[k] for k in ("run_id", "seq", "event", "guard", "was", "now")} == {
        "run_id": "run_1", "seq": 5, "event": "plan_approved", "guard": "order_notional_limit",
        "was": "passed", "now": "refused"}  # fmt: skip
    assert shown["inputs"]["largest"] == "2500"
    assert shown["reason"] == "largest $2500, limit $1000 (max_order_notional)"


def test_a_decision_recorded_with_too_few_inputs_stands_or_is_counted_not_replayed() -> None:
    sane = GuardDecision(name="prices_sane", passed=True, reason="8 price(s) plausible",
                         inputs={"refused": "0", "min": "0.01", "max": "1000000",
                                 "max_move": "0.5"})  # fmt: skip
    made = _recorded([sane])
    same = replay([made], lambda account, mode: RiskPolicy())
    assert (same.changes, same.summary()["not_replayed"]) == ([], {})
    lower = replay([made], lambda account, mode: RiskPolicy(max_price=Decimal(500)))
    assert (lower.changes, lower.summary()["not_replayed"]) == ([], {"prices_sane": 1})
