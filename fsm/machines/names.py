"""The trading chart's state and event names, one member per name (a test holds them to the
chart in ``fsm.machines.trading``).

The driver, engine, steps, console, CLI and persistence name a chart state or event through
these, never by a string literal. Members are ``str``: they compare, hash and serialise as the
names stored in the ledger.
"""

from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    """A state of ``TradingWorkflow``."""

    IDLE = "idle"
    GENERATING_SIGNALS = "generating_signals"
    ANALYZING = "analyzing"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"


class TradingEvent(StrEnum):
    """An event of ``TradingWorkflow``."""

    START = "start"
    SIGNALS_GENERATED = "signals_generated"
    SIGNALS_REPORTED = "signals_reported"
    REBALANCE_NEEDED = "rebalance_needed"
    REBALANCE_NOT_NEEDED = "rebalance_not_needed"
    PLAN_REPORTED = "plan_reported"
    PLAN_EMPTY = "plan_empty"
    PLAN_APPROVED = "plan_approved"
    APPROVAL_REQUIRED = "approval_required"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTION_COMPLETED = "execution_completed"
    FAIL = "fail"  # the engine's, in any non-final state
    CANCEL = "cancel"  # an operator's, in any non-final state


# The ledger's first row (``None → idle``): not an event of the chart, which starts in idle.
CREATED = "created"
