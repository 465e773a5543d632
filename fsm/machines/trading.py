"""The trading rebalance as a StateChart: states, events and transitions, nothing else.

Guards are named here so the diagram shows them; the engine evaluates them (``fsm.guards``)
and passes the recorded decisions in as ``guard_results``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from statemachine import State, StateChart


def guard(name: str) -> Callable[..., bool]:
    """A named condition that reads the engine's decision for ``name``."""

    def check(guard_results: Mapping[str, bool] | None = None) -> bool:
        return bool(guard_results and guard_results.get(name))

    check.__name__ = check.__qualname__ = name
    return check


# A plan may go on (to executing, or to wait for approval) only within these limits.
_PLAN_LIMITS = [
    guard(name)
    for name in (
        "mode_executes_orders", "trades_required", "max_orders", "order_notional_limit",
        "total_notional_limit", "order_qty_limit", "buying_power", "symbols_allowed",
        "prices_fresh",
    )
]  # fmt: skip
# Those of the risk policy: checked again at approval, against the stricter of the run's
# pinned policy and the one in force then.
_RISK_LIMITS = [
    g for g in _PLAN_LIMITS
    if g.__name__ not in ("mode_executes_orders", "trades_required", "buying_power")
]  # fmt: skip


class TradingWorkflow(StateChart[Any]):
    # Strict: a failed commit must raise instead of becoming an event, and an illegal or
    # guarded-out event must raise instead of being ignored.
    catch_errors_as_events = False
    allow_event_without_transition = False

    idle = State(initial=True)
    generating_signals = State()
    analyzing = State()
    planning = State()
    awaiting_approval = State()  # parked: only a person's approve or reject moves it
    executing = State()
    done = State(final=True)
    failed = State(final=True)

    start = idle.to(
        generating_signals,
        cond=[
            guard("mode_allowed"),
            guard("broker_endpoint"),
            guard("as_of_fresh"),
            guard("as_of_session"),
        ],
    )
    signals_generated = generating_signals.to(
        analyzing,
        cond=[
            guard("full_run_mode"),
            guard("has_signals"),
            guard("weights_in_range"),
            guard("symbols_well_formed"),
        ],
    )
    signals_reported = generating_signals.to(done, cond=guard("signals_only_mode"))
    rebalance_needed = analyzing.to(
        planning, cond=[guard("prices_sane"), guard("drift_above_threshold")]
    )
    rebalance_not_needed = analyzing.to(
        done, cond=[guard("prices_sane"), guard("drift_within_threshold")]
    )
    plan_reported = planning.to(done, cond=guard("dry_run_mode"))
    plan_empty = planning.to(done, cond=guard("no_trades_required"))
    plan_approved = planning.to(
        executing,
        cond=[
            *_PLAN_LIMITS,
            guard("market_open"),
            guard("approval_not_needed"),
            guard("daily_limits"),
        ],
    )
    approval_required = planning.to(
        awaiting_approval, cond=[*_PLAN_LIMITS, guard("approval_needed")]
    )
    approved = awaiting_approval.to(
        executing,
        cond=[guard("operator_named"), guard("four_eyes"), guard("approval_signed"),
              *_RISK_LIMITS, guard("daily_limits"), guard("market_open")],
    )  # fmt: skip
    rejected = awaiting_approval.to(
        failed, cond=[guard("operator_named"), guard("approval_signed")]
    )
    execution_completed = executing.to(
        done, cond=[guard("orders_terminal"), guard("execution_succeeded")]
    )
    fail = (
        idle.to(failed)
        | generating_signals.to(failed)
        | analyzing.to(failed)
        | planning.to(failed)
        | awaiting_approval.to(failed)
        | executing.to(failed)
    )
    cancel = (
        idle.to(failed, cond=guard("operator_named"))
        | generating_signals.to(failed, cond=guard("operator_named"))
        | analyzing.to(failed, cond=guard("operator_named"))
        | planning.to(failed, cond=guard("operator_named"))
        | awaiting_approval.to(failed, cond=guard("operator_named"))
        | executing.to(failed, cond=guard("operator_named"))
    )
