"""What a guard reads (``GuardContext``), what it returns (``decision``), and the limits of
its run (``limits_of``): the pinned policy tightened by settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from fsm.dailytotals import DailyCheck
from fsm.kinds import Mode
from fsm.limits import Limits, settings_limits
from fsm.lineage import Lineage
from fsm.records import GuardDecision, RebalancePlan
from fsm.settings import Settings
from fsm.signatures import ApprovalEvidence


@dataclass(frozen=True)
class GuardContext:
    """The facts one evaluation of a transition's guards reads; guards never do I/O."""

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
    limits: Limits | None = None  # the run's pinned policy (None: defaults and settings)
    daily: DailyCheck | None = None  # the account's totals today, when a daily limit is set
    now: datetime | None = None  # the Clock's time of the transition (the market must be open)


Guard = Callable[[GuardContext], GuardDecision]


def decision(name: str, passed: bool, reason: str, **inputs: object) -> GuardDecision:
    return GuardDecision(
        name=name, passed=passed, reason=reason, inputs={k: str(v) for k, v in inputs.items()}
    )


def limits_of(ctx: GuardContext) -> Limits:
    return ctx.limits if ctx.limits is not None else settings_limits(ctx.settings)


def plan_of(ctx: GuardContext) -> RebalancePlan:
    assert isinstance(ctx.output, RebalancePlan), "plan guards need a RebalancePlan"
    return ctx.output
