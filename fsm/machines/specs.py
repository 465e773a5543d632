"""What runs in each state of the trading chart: one spec per state, checked at import."""

from __future__ import annotations

from fsm.definition import trading_definition
from fsm.records import AllocationAnalysis, ExecutionReport, RebalancePlan, SignalSet
from fsm.spec import SpecSet, StateSpec
from fsm.steps.runner import analyse_allocation, execute, generate_signals, plan, start

TRADING_SPECS = SpecSet("trading", trading_definition(), {
    "idle": StateSpec(
        start, ("start",), timeout=None, note="start is re-evaluated: guards run again",
    ),
    "generating_signals": StateSpec(
        generate_signals, ("signals_generated", "signals_reported"), SignalSet,
        note="signals are generated again while as_of is fresh; a stale run fails with StaleRun",
    ),
    "analyzing": StateSpec(
        analyse_allocation, ("rebalance_needed", "rebalance_not_needed"), AllocationAnalysis,
        on_resume="reuse checkpoint", uses=("generating_signals",),
        note="signals come from their checkpoint; account and prices are read again",
    ),
    "planning": StateSpec(
        plan, ("plan_reported", "plan_empty", "plan_approved", "approval_required"),
        RebalancePlan, on_resume="reuse checkpoint", uses=("analyzing",),
        note="pure: the plan is computed again from the analysis checkpoint",
    ),
    "awaiting_approval": StateSpec(
        None, ("approved", "rejected"), on_resume="wait for a person", uses=("planning",),
        timeout=None, retry="never", parks=True,
        note="the plan waits for `tradefsm approve` or `reject` by someone other than the "
        "requester; it fails when TRADEFSM_APPROVAL_TIMEOUT_SECONDS passes",
    ),
    "executing": StateSpec(
        execute, ("execution_completed",), ExecutionReport, on_resume="reconcile",
        uses=("planning",), timeout="execution_timeout_seconds",
        retry="transient, never after a timeout",
        note="each committed intent is looked up at the broker by client_order_id; only intents "
        "the broker never saw are submitted, never twice",
    ),
})  # fmt: skip
