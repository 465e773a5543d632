"""What happens in each state, declared once per state and checked against the chart.

The chart (``fsm.machines``) says which transitions exist; a ``StateSpec`` says what runs in a
state: its step, the model of the output it checkpoints, how it resumes, its timeout (a Settings
field, by reference) and retry class, the events its step (or, for a parking state, a person)
may send, and its hooks: what stopping it mid-way must undo (``stand_down``), what a failing row
commits (``at_failure``), whether entering it sends a plan (``sends_plan``: the account's daily
totals count it) and, for a state that waits for a person, how it waits (``Parking``, whose
decisions are the people's events besides the engine-wide ``cancel``).
The driver and engine ask the spec; they never test a state's name. A ``SpecSet`` refuses, when
it is built, a spec that does not match the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel

from fsm.dailytotals import SentPlans
from fsm.definition import MachineDefinition
from fsm.errors import (
    DatabaseUnavailable,
    MachineDefinitionError,
    StepTimeout,
    TransientError,
)
from fsm.machines.names import TradingEvent
from fsm.policy import RiskPolicy
from fsm.ports import RunStore
from fsm.settings import Settings

if TYPE_CHECKING:
    from fsm.steps.runner import StepEnv, StepResult

Step = Callable[["StepEnv"], "StepResult"]
# What must be undone when the run fails mid-state (stale, overdue, halted, cancelled): a note
# for the failure's message, or None when there was nothing to undo.
StandDown = Callable[["StepEnv"], str | None]
# The output a failing row commits when the failure brought none (the run's id).
AtFailure = Callable[[RunStore, str], BaseModel | None]
Setting = Callable[[Settings], float]  # a Settings field, read by reference: lambda s: s.field
OnResume = Literal["re-enter", "reuse checkpoint", "reconcile", "wait for a person", "refuse"]
RetryClass = Literal["transient", "transient, never after a timeout", "never"]
# Sent by the engine or an operator, in any state.
COMMAND_EVENTS = frozenset({TradingEvent.FAIL, TradingEvent.CANCEL})


def step_timeout(settings: Settings) -> float:
    return settings.step_timeout_seconds


def setting_name(read: Setting) -> str:
    """The name of the Settings field ``read`` returns (``lambda s: s.execution_timeout_seconds``
    → ``execution_timeout_seconds``); MachineDefinitionError when it returns no field."""
    name = read(cast(Settings, _FieldNames()))
    if not isinstance(name, str) or name not in Settings.model_fields:
        raise MachineDefinitionError(f"{read!r} does not read one Settings field")
    return name


class _FieldNames:
    """Stands in for Settings: reading a field gives the field's name."""

    def __getattr__(self, name: str) -> str:
        return name


@dataclass(frozen=True)
class Decision:
    """What a person's event does to a parked run."""

    verb: str  # the command that sends it, as messages and signatures say it: "approve"
    failure_type: str  # the failure's error type when it ends the run
    # While the account is halted the run stays parked (`unhalt`), the refusal saying what it
    # refused ("approving"); None: a halt does not hold it.
    halted: str | None = None
    policy_now: bool = False  # its guards read the stricter of the pinned and in-force policy


@dataclass(frozen=True)
class Parking:
    """How a state waits for a person: no lease, no worker, no `resume --all`; only the events
    of ``decisions`` (or ``expires`` passing, which fails the run) move it."""

    expires: Callable[[RiskPolicy], float | None]  # seconds it may wait; None: for ever
    decisions: Mapping[str, Decision] = field(default_factory=dict)


@dataclass(frozen=True)
class StateSpec:
    """One state's behaviour. ``step`` is None exactly when the state parks for a person.

    A ``timeout`` that reads no Settings field is refused when the spec is built."""

    step: Step | None
    events: tuple[str, ...]  # what the step (or the person, when parked) may send
    output: type[BaseModel] | None = None  # the checkpoint model of the step's output
    on_resume: OnResume = "re-enter"
    uses: tuple[str, ...] = ()  # states whose checkpoints the step reads
    note: str = ""
    timeout: Setting | None = step_timeout  # the Settings field bounding one attempt
    retry: RetryClass = "transient"
    parking: Parking | None = None  # how it waits for a person, when it does
    # Older checkpoint schema versions of the ``uses`` states the step still reads, besides
    # each output model's own: what `tradefsm runs migrate` lets a run bring along.
    accepts: tuple[int, ...] = ()
    stand_down: StandDown | None = None
    at_failure: AtFailure | None = None
    # Entering this state sends the plan checkpointed by the state named here (one of
    # ``uses``): the account's daily totals count it from the row that enters.
    sends_plan: str | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None:
            setting_name(self.timeout)

    @property
    def parks(self) -> bool:
        return self.parking is not None

    @property
    def timeout_setting(self) -> str | None:
        return None if self.timeout is None else setting_name(self.timeout)

    def timeout_seconds(self, settings: Settings) -> float | None:
        return None if self.timeout is None else float(self.timeout(settings))

    def attempts(self, settings: Settings) -> int:
        return 1 if self.retry == "never" else settings.retry_attempts

    def retries(self, error: BaseException) -> bool:
        """Worth another try: transient, and not a timeout where that may still be sending.

        A database fault is not: the store has already ridden through it for its budget, and
        past that the driver stops with the run resumable instead of spending attempts.
        """
        if self.retry == "transient, never after a timeout" and isinstance(error, StepTimeout):
            return False
        if isinstance(error, DatabaseUnavailable):
            return False
        return self.retry != "never" and isinstance(error, TransientError)

    @property
    def schema_version(self) -> int | None:
        if self.output is None:
            return None
        return int(self.output.model_fields["schema_version"].default)

    def as_json(self) -> dict[str, Any]:
        return {
            "on_resume": self.on_resume, "uses": list(self.uses), "note": self.note,
            "retries": self.retry != "never", "retry_class": self.retry,
            "timeout": self.timeout_setting, "parks": self.parks,
            "events": list(self.events),
            "output": None if self.output is None else self.output.__name__,
            "schema_version": self.schema_version, "accepts": list(self.accepts),
            "sends_plan": self.sends_plan,
        }  # fmt: skip


class SpecSet(Mapping[str, StateSpec]):
    """The specs of every non-final state of one machine, proven to cover its chart."""

    def __init__(
        self, name: str, definition: MachineDefinition, specs: Mapping[str, StateSpec]
    ) -> None:
        self.name = name
        self.definition = definition
        self._specs = dict(specs)
        _check(name, definition, self._specs)
        self.parked_states = frozenset(s for s, spec in self._specs.items() if spec.parks)
        # What people send: each parked state's decisions; cancel is engine-wide.
        self.decision_events = frozenset(
            event for spec in self._specs.values() if spec.parking is not None
            for event in spec.parking.decisions
        )  # fmt: skip
        self.peoples_events = self.decision_events | {TradingEvent.CANCEL}
        self.sent_plans = _sent_plans(definition, self._specs)

    def __getitem__(self, state: str) -> StateSpec:
        return self._specs[state]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def decision(self, state: str, event: str) -> Decision | None:
        """What ``event`` does when a person sends it in ``state``; None unless it parks there."""
        spec = self._specs.get(state)
        parking = spec.parking if spec is not None else None
        return None if parking is None else parking.decisions.get(event)


def _sent_plans(definition: MachineDefinition,
                specs: Mapping[str, StateSpec]) -> SentPlans | None:  # fmt: skip
    """Which rows send a plan: every event of the chart that enters the state whose spec says
    it sends one (None when no spec does: nothing counts toward the daily limits)."""
    marked = [(state, spec.sends_plan) for state, spec in specs.items() if spec.sends_plan]
    if not marked:
        return None
    (state, plan_state), *_ = marked
    events = sorted({t.event for t in definition.transitions.values() if t.target == state})
    return SentPlans(state, tuple(events), plan_state)


def _check(name: str, definition: MachineDefinition, specs: Mapping[str, StateSpec]) -> None:
    live = [s for s in definition.states if s not in definition.final_states]
    problems = [f"state {s} has no spec" for s in live if s not in specs]
    problems += [f"spec for {s}, which is not a non-final state" for s in specs if s not in live]
    for state, spec in specs.items():
        chart = {event for (source, event) in definition.transitions if source == state}
        declared = set(spec.events) | COMMAND_EVENTS
        problems += [f"{state} sends {e}, which the chart does not allow there"
                     for e in sorted(declared - chart)]  # fmt: skip
        problems += [f"{state} never sends {e}, which the chart allows there"
                     for e in sorted(chart - declared)]  # fmt: skip
        if spec.parks != (spec.step is None):
            problems.append(f"{state}: a state parks exactly when it has no step")
        if spec.parking is not None and set(spec.parking.decisions) != set(spec.events):
            problems.append(f"{state}: a parked state's decisions are the events it sends")
        problems += [f"{state} uses {u}, which is not a state" for u in spec.uses
                     if u not in definition.states]  # fmt: skip
        if spec.sends_plan is not None and spec.sends_plan not in spec.uses:
            problems.append(f"{state} sends the plan of {spec.sends_plan}, which it does not use")
    senders = sorted(state for state, spec in specs.items() if spec.sends_plan)
    if len(senders) > 1:
        problems.append(f"only one state may send a plan, not {', '.join(senders)}")
    if problems:
        raise MachineDefinitionError(f"spec set {name} does not match its chart: "
                                     + "; ".join(problems))  # fmt: skip
