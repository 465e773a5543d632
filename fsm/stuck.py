"""Stuck runs, one concept for the console's badge, `tradefsm runs stuck` and the metrics.

A run is stuck when it is active, not parked for a person (a run awaiting approval waits, it
is not stuck), not stranded (pinned to another machine definition, ``fsm.pinning``: nothing
resumes it until `tradefsm runs migrate` moves it, which its own badge says), and either no
live process drives it (its lease expired or its process on this host is gone: what
`tradefsm resume` continues) or it made no progress (no transition) for longer than a bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from fsm.errors import InvalidInput
from fsm.kinds import RunStatus
from fsm.leases import unattended
from fsm.machines.specs import TRADING_SPECS
from fsm.pinning import is_stranded
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord

STUCK_AFTER = timedelta(minutes=15)  # no progress for this long: stuck, whoever holds it
ACTIVE_RUNS_READ = 10_000  # at most one active run per account: more than any deployment


@dataclass(frozen=True)
class StuckRun:
    """A stuck run, why, and the command that continues it."""

    run: RunRecord
    why: str  # "no live holder" or "no progress"
    idle: timedelta  # since its last transition

    @property
    def resume_command(self) -> str:
        return f"tradefsm resume {self.run.run_id} --actor NAME"

    def as_json(self) -> dict[str, object]:
        r = self.run
        return {"run_id": r.run_id, "account_id": r.account_id, "state": r.state,
                "why": self.why, "idle_seconds": round(self.idle.total_seconds(), 3),
                "lease_owner": r.lease_owner,
                "lease_expires_at": r.lease_expires_at.isoformat() if r.lease_expires_at else None,
                "resume": self.resume_command}  # fmt: skip


def why_stuck(run: RunRecord, now: datetime, bound: timedelta = STUCK_AFTER) -> str | None:
    """Why ``run`` is stuck at ``now``, or None when it is not."""
    if run.status is not RunStatus.ACTIVE or run.state in TRADING_SPECS.parked_states:
        return None
    if is_stranded(run, TRADING_SPECS.definition):
        return None
    if unattended(run, now):
        return "no live holder"
    return "no progress" if now - run.updated_at > bound else None


def stuck(run: RunRecord, now: datetime, bound: timedelta = STUCK_AFTER) -> bool:
    return why_stuck(run, now, bound) is not None


def stuck_runs(store: RunStore, now: datetime, bound: timedelta = STUCK_AFTER) -> list[StuckRun]:
    """The stuck runs, the longest idle first."""
    active = store.list_runs(RunFilter(status=RunStatus.ACTIVE, limit=ACTIVE_RUNS_READ))
    found = [StuckRun(r, why, now - r.updated_at) for r in active
             if (why := why_stuck(r, now, bound))]  # fmt: skip
    return sorted(found, key=lambda s: s.idle, reverse=True)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d`` or plain seconds; InvalidInput otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(f"{text!r} is not a duration: a number with s, m, h or d (15m)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])
