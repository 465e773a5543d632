"""What-if replay: which recorded guard decisions a proposed risk policy would decide otherwise.

Pure: ``replay`` takes the recorded transitions of the selected runs (each with the guard
decisions its ledger row committed, read by ``persistence.replay``) and the proposed policy of
each run's account and mode, and returns a ``ReplayReport``. Nothing is read or written here.
Each decision of a guard in ``fsm.replayrules.RULES`` is decided again from its recorded
inputs; the decisions of guards that read no policy key cannot change; those of guards that
read one but record too little are counted as not replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsm.policy import RiskPolicy
from fsm.replayrules import NEEDS, RULES, UNREPLAYABLE

PolicyOf = Callable[[str, str], RiskPolicy]  # (account_id, mode) → the proposed policy


@dataclass(frozen=True, slots=True)
class RecordedTransition:
    """One ledger row with guard decisions, and the facts of its run replay reads."""

    run_id: str
    seq: int
    event: str
    source: str | None
    account_id: str
    mode: str
    decisions: Sequence[Mapping[str, Any]]  # as committed: name, passed, reason, inputs


@dataclass(frozen=True, slots=True)
class ChangedDecision:
    """A recorded decision the proposed policy decides otherwise: ``passed`` is the new one."""

    transition: RecordedTransition
    guard: str
    was_reason: str
    inputs: Mapping[str, str]
    passed: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        t = self.transition
        return {"run_id": t.run_id, "account_id": t.account_id, "seq": t.seq, "event": t.event,
                "source": t.source, "guard": self.guard, "was": _outcome(not self.passed),
                "now": _outcome(self.passed), "was_reason": self.was_reason,
                "reason": self.reason, "inputs": dict(self.inputs)}  # fmt: skip


def _outcome(passed: bool) -> str:
    return "passed" if passed else "refused"


@dataclass
class ReplayReport:
    """What replay found: every changed decision, and how many it looked at."""

    changes: list[ChangedDecision] = field(default_factory=list)
    runs: set[str] = field(default_factory=set)
    decisions: int = 0
    replayed: int = 0
    not_replayed: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        refused = sum(1 for c in self.changes if not c.passed)
        return {
            "runs": len(self.runs),
            "decisions": self.decisions,
            "replayed": self.replayed,
            "changed": len(self.changes),
            "runs_changed": len({c.transition.run_id for c in self.changes}),
            "would_refuse": refused,
            "would_pass": len(self.changes) - refused,
            "not_replayed": dict(sorted(self.not_replayed.items())),
        }


def replay(transitions: Iterable[RecordedTransition], policy_of: PolicyOf) -> ReplayReport:
    """The decisions of ``transitions`` that ``policy_of`` would decide otherwise."""
    report = ReplayReport()
    for transition in transitions:
        report.runs.add(transition.run_id)
        for recorded in transition.decisions:
            report.decisions += 1
            change = _again(transition, recorded, policy_of, report)
            if change is not None:
                report.changes.append(change)
    return report


def _again(transition: RecordedTransition, recorded: Mapping[str, Any], policy_of: PolicyOf,
           report: ReplayReport) -> ChangedDecision | None:  # fmt: skip
    """The decision under the proposed policy when it differs from the recorded one."""
    name, inputs = recorded["name"], recorded.get("inputs") or {}
    rule, stands = RULES.get(name), UNREPLAYABLE.get(name)
    if rule is None and stands is None:
        return None  # it reads no policy key
    mode, policy = transition.mode, policy_of(transition.account_id, transition.mode)
    if rule is None or not all(k in inputs for k in NEEDS[name]):
        if stands is None or not stands(inputs, mode, policy):
            report.not_replayed[name] += 1
        return None
    report.replayed += 1
    passed, reason = rule(inputs, mode, policy)
    if passed == bool(recorded["passed"]):
        return None
    return ChangedDecision(transition, name, str(recorded.get("reason", "")), inputs, passed,
                           reason)  # fmt: skip
