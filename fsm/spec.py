"""What happens in each state, declared once per state and checked against the chart.

The chart (``fsm.machines``) says which transitions exist; a ``StateSpec`` says what runs in a
state: its step, the model of the output it checkpoints, how it resumes, its timeout and retry
class, the events its step (or, for a parking state, a person) may send, and whether it parks.
A ``SpecSet`` refuses, when it is built, a spec that does not match the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from fsm.definition import MachineDefinition
from fsm.errors import (
    DatabaseUnavailable,
    MachineDefinitionError,
    StepTimeout,
    TransientError,
)
from fsm.settings import Settings

if TYPE_CHECKING:
    from fsm.steps.runner import StepEnv, StepResult

Step = Callable[["StepEnv"], "StepResult"]
OnResume = Literal["re-enter", "reuse checkpoint", "reconcile", "wait for a person", "refuse"]
RetryClass = Literal["transient", "transient, never after a timeout", "never"]
COMMAND_EVENTS = frozenset({"fail", "cancel"})  # sent by the engine or an operator, any state


@dataclass(frozen=True)
class StateSpec:
    """One state's behaviour. ``step`` is None exactly when the state parks for a person."""

    step: Step | None
    events: tuple[str, ...]  # what the step (or the person, when parked) may send
    output: type[BaseModel] | None = None  # the checkpoint model of the step's output
    on_resume: OnResume = "re-enter"
    uses: tuple[str, ...] = ()  # states whose checkpoints the step reads
    note: str = ""
    timeout: str | None = "step_timeout_seconds"  # the Settings field bounding one attempt
    retry: RetryClass = "transient"
    parks: bool = False  # no lease, no worker, no `resume --all`: only a person moves it
    # Older checkpoint schema versions of the ``uses`` states the step still reads, besides
    # each output model's own: what `tradefsm runs migrate` lets a run bring along.
    accepts: tuple[int, ...] = ()

    def timeout_seconds(self, settings: Settings) -> float | None:
        return None if self.timeout is None else float(getattr(settings, self.timeout))

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
            "timeout": self.timeout, "parks": self.parks,
            "events": list(self.events),
            "output": None if self.output is None else self.output.__name__,
            "schema_version": self.schema_version, "accepts": list(self.accepts),
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

    def __getitem__(self, state: str) -> StateSpec:
        return self._specs[state]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


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
        problems += [f"{state} uses {u}, which is not a state" for u in spec.uses
                     if u not in definition.states]  # fmt: skip
    if problems:
        raise MachineDefinitionError(f"spec set {name} does not match its chart: "
                                     + "; ".join(problems))  # fmt: skip
