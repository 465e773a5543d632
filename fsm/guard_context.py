"""What a guard reads (``GuardContext``) and what it returns (a ``GuardDecision``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from fsm.kinds import Mode
from fsm.lineage import Lineage
from fsm.records import GuardDecision
from fsm.settings import Settings
from fsm.signatures import ApprovalEvidence


@dataclass(frozen=True)
class GuardContext:
    """The facts of one transition a guard may look at; guards never read anything else."""

    settings: Settings
    mode: Mode
    as_of: date
    today: date
    output: object = None
    actor: str | None = None  # the operator of a command (cancel, approve, reject)
    reason: str | None = None
    requester: str | None = None  # who started the run, when no lineage is given
    lineage: Lineage | None = None  # the retry lineage, for the guards that read it
    priced_against: date | None = None  # prices must be fresh against this day (else as_of)
    approval: ApprovalEvidence | None = None  # a person's decision on a plan, maybe signed
    now: datetime | None = None  # the Clock's time of the transition (the market must be open)


Guard = Callable[[GuardContext], GuardDecision]


def decision(name: str, passed: bool, reason: str, **inputs: object) -> GuardDecision:
    return GuardDecision(
        name=name, passed=passed, reason=reason, inputs={k: str(v) for k, v in inputs.items()}
    )
