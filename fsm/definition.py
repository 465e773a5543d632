"""The StateChart compiled once per process into an immutable transition table.

Building a StateChart instance costs about as much as the durable write it guards, so the
engine's hot path looks transitions up in this table instead; a test proves that the table
and the class agree on every (state, event) pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from fsm.canonical import canonical_json, sha256_hex
from fsm.errors import IllegalTransition
from fsm.machines.trading import TradingWorkflow
from fsm.records import Definition


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    event: str
    target: str
    guards: tuple[str, ...]


@dataclass(frozen=True)
class MachineDefinition:
    name: str
    initial: str
    states: tuple[str, ...]
    final_states: frozenset[str]
    events: tuple[str, ...]
    transitions: dict[tuple[str, str], Transition]
    chart: type[Any] = field(repr=False, compare=False)  # the StateChart it was compiled from

    def transition(self, state: str, event: str) -> Transition:
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise IllegalTransition(
                f"event {event!r} is not allowed in state {state!r}", state=state, event=event
            ) from None

    def canonical(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "initial": self.initial,
            "states": list(self.states),
            "final_states": sorted(self.final_states),
            "events": list(self.events),
            "transitions": [
                {"source": t.source, "event": t.event, "target": t.target, "guards": list(t.guards)}
                for t in self.transitions.values()
            ],
        }

    @cached_property
    def mermaid(self) -> str:
        """Rendered when first asked for: the store asks only for a definition it lacks."""
        return mermaid_text(self.chart)

    @cached_property
    def definition_hash(self) -> str:
        return hash_definition(self.canonical())

    def record(self) -> Definition:
        return Definition(
            definition_hash=self.definition_hash, canonical=self.canonical(), mermaid=self.mermaid
        )


def hash_definition(canonical: dict[str, Any]) -> str:
    """The hash naming a machine definition: SHA-256 of its canonical JSON."""
    return sha256_hex(canonical_json(canonical))


def compile_chart(chart: type[Any]) -> MachineDefinition:
    transitions: dict[tuple[str, str], Transition] = {}
    initial = ""
    for state in chart.states:
        if state.initial:
            initial = state.id
        for t in state.transitions:
            transitions[(state.id, t.event)] = Transition(
                source=state.id,
                event=t.event,
                target=t.target.id,
                guards=tuple(str(c) for c in t.cond),
            )
    return MachineDefinition(
        name=chart.__name__,
        initial=initial,
        states=tuple(s.id for s in chart.states),
        final_states=frozenset(s.id for s in chart.states if s.final),
        events=tuple(e.id for e in chart.events),
        transitions=transitions,
        chart=chart,
    )


def mermaid_text(chart: type[Any]) -> str:
    """Mermaid ``stateDiagram-v2`` of the chart, without the marker of a current state."""
    text: str = format(chart(), "mermaid")
    lines = [
        ln for ln in text.splitlines() if "classDef active" not in ln and ":::active" not in ln
    ]
    return "\n".join(lines).rstrip() + "\n"


@cache
def trading_definition() -> MachineDefinition:
    return compile_chart(TradingWorkflow)
