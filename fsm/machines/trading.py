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


class TradingWorkflow(StateChart[Any]):
    # Strict: a failed commit must raise instead of becoming an event, and an illegal or
    # guarded-out event must raise instead of being ignored.
    catch_errors_as_events = False
    allow_event_without_transition = False

    idle = State(initial=True)
    generating_signals = State()
    analyzing = State()
    planning = State()
    executing = State()
    done = State(final=True)
    failed = State(final=True)

    start = idle.to(generating_signals, cond=[guard("mode_allowed"), guard("as_of_fresh")])
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
    rebalance_needed = analyzing.to(planning, cond=guard("drift_above_threshold"))
    rebalance_not_needed = analyzing.to(done, cond=guard("drift_within_threshold"))
    plan_reported = planning.to(done, cond=guard("dry_run_mode"))
    plan_empty = planning.to(done, cond=guard("no_trades_required"))
    plan_approved = planning.to(
        executing,
        cond=[
            guard("mode_executes_orders"),
            guard("trades_required"),
            guard("max_orders"),
            guard("order_notional_limit"),
            guard("total_notional_limit"),
            guard("buying_power"),
            guard("symbols_allowed"),
        ],
    )
    execution_completed = executing.to(
        done, cond=[guard("orders_terminal"), guard("execution_succeeded")]
    )
    fail = (
        idle.to(failed)
        | generating_signals.to(failed)
        | analyzing.to(failed)
        | planning.to(failed)
        | executing.to(failed)
    )
    cancel = (
        idle.to(failed, cond=guard("operator_named"))
        | generating_signals.to(failed, cond=guard("operator_named"))
        | analyzing.to(failed, cond=guard("operator_named"))
        | planning.to(failed, cond=guard("operator_named"))
        | executing.to(failed, cond=guard("operator_named"))
    )
