"""What runs in each state of the trading chart: one spec per state, checked at import."""

from __future__ import annotations

from fsm.definition import trading_definition
from fsm.failedorders import orders_at_failure
from fsm.machines.names import TradingEvent as E
from fsm.machines.names import TradingState as S
from fsm.pluginrecords import SignalSet
from fsm.records import AllocationAnalysis, ExecutionReport, RebalancePlan
from fsm.spec import Decision, Parking, SpecSet, StateSpec
from fsm.steps.runner import (
    analyse_allocation,
    execute,
    generate_signals,
    plan,
    stand_down_orders,
    start,
)

# A plan waits for someone other than the requester; approving it is refused while the account
# is halted and is checked against the policy in force then; rejecting it fails the run.
APPROVAL = Parking(
    expires=lambda policy: policy.approval_timeout_seconds,
    decisions={
        E.APPROVED: Decision("approve", "Approved", halted="approving", policy_now=True),
        E.REJECTED: Decision("reject", "Rejected"),
    },
)

TRADING_SPECS = SpecSet("trading", trading_definition(), {
    S.IDLE: StateSpec(
        start, (E.START,), timeout=None, note="start is re-evaluated: guards run again",
    ),
    S.GENERATING_SIGNALS: StateSpec(
        generate_signals, (E.SIGNALS_GENERATED, E.SIGNALS_REPORTED), SignalSet,
        note="signals are generated again while as_of is fresh; a stale run fails with StaleRun",
    ),
    S.ANALYZING: StateSpec(
        analyse_allocation, (E.REBALANCE_NEEDED, E.REBALANCE_NOT_NEEDED), AllocationAnalysis,
        on_resume="reuse checkpoint", uses=(S.GENERATING_SIGNALS,),
        note="signals come from their checkpoint; account and prices are read again",
    ),
    S.PLANNING: StateSpec(
        plan, (E.PLAN_REPORTED, E.PLAN_EMPTY, E.PLAN_APPROVED, E.APPROVAL_REQUIRED),
        RebalancePlan, on_resume="reuse checkpoint", uses=(S.ANALYZING,),
        note="pure: the plan is computed again from the analysis checkpoint",
    ),
    S.AWAITING_APPROVAL: StateSpec(
        None, (E.APPROVED, E.REJECTED), on_resume="wait for a person", uses=(S.PLANNING,),
        timeout=None, retry="never", parking=APPROVAL,
        note="the plan waits for `tradefsm approve` or `reject` by someone other than the "
        "requester; it fails when TRADEFSM_APPROVAL_TIMEOUT_SECONDS passes",
    ),
    S.EXECUTING: StateSpec(
        execute, (E.EXECUTION_COMPLETED,), ExecutionReport, on_resume="reconcile",
        uses=(S.PLANNING,), timeout=lambda s: s.execution_timeout_seconds,
        retry="transient, never after a timeout", sends_plan=S.PLANNING,
        stand_down=stand_down_orders, at_failure=orders_at_failure,
        note="each committed intent is looked up at the broker by client_order_id; only intents "
        "the broker never saw are submitted, never twice",
    ),
})  # fmt: skip
