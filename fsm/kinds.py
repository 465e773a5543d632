"""The run's mode and status: plain enums, importable without pydantic (the CLI's options)."""

from __future__ import annotations

from enum import StrEnum


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
