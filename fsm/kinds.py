"""The run's mode and status: plain enums, importable without pydantic (the CLI's options)."""

from __future__ import annotations

from enum import StrEnum

from fsm.machines.names import TradingState


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"
    DRY_RUN = "dry-run"
    SIGNALS_ONLY = "signals-only"


class RunStatus(StrEnum):
    QUEUED = "queued"  # submitted, waiting for a worker
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"

    @classmethod
    def in_state(cls, state: str) -> RunStatus:
        """A run's status in ``state``: ``done`` and ``failed`` end it, any other is active."""
        if state == TradingState.DONE:
            return cls.DONE
        return cls.FAILED if state == TradingState.FAILED else cls.ACTIVE


class Durability(StrEnum):
    """Which commits are flushed to disk before a run goes on (``fsm.durability``)."""

    STRICT = "strict"  # every commit
    EFFECTS = "effects"  # those an order, a parked run or a run's end follows
