"""The compiled transition table and the StateChart class agree on every (state, event)."""

from __future__ import annotations

import itertools

import pytest
from statemachine.exceptions import TransitionNotAllowed

from fsm.definition import Transition, trading_definition
from fsm.errors import IllegalTransition
from fsm.guards import GUARDS
from fsm.machines.trading import TradingWorkflow

DEFINITION = trading_definition()
PAIRS = list(itertools.product(DEFINITION.states, DEFINITION.events))


class _At:
    def __init__(self, state: str) -> None:
        self.state = state


@pytest.mark.parametrize(("state", "event"), PAIRS)
def test_table_matches_the_chart(state: str, event: str) -> None:
    chart = TradingWorkflow(model=_At(state))
    all_pass = dict.fromkeys(GUARDS, True)
    if (state, event) in DEFINITION.transitions:
        chart.send(event, guard_results=all_pass)
        assert chart.model.state == DEFINITION.transition(state, event).target
    else:
        with pytest.raises(TransitionNotAllowed):
            chart.send(event, guard_results=all_pass)
        with pytest.raises(IllegalTransition):
            DEFINITION.transition(state, event)


GUARDED = [t for t in DEFINITION.transitions.values() if t.guards]


@pytest.mark.parametrize("transition", GUARDED, ids=str)
def test_a_false_guard_blocks_the_chart_too(transition: Transition) -> None:
    guards = transition.guards
    chart = TradingWorkflow(model=_At(transition.source))
    decisions = dict.fromkeys(GUARDS, True) | {guards[0]: False}
    with pytest.raises(TransitionNotAllowed):
        chart.send(transition.event, guard_results=decisions)


def test_shape_of_the_machine() -> None:
    assert DEFINITION.states == (
        "idle", "generating_signals", "analyzing", "planning", "awaiting_approval", "executing",
        "done", "failed",
    )  # fmt: skip
    assert DEFINITION.initial == "idle"
    assert DEFINITION.final_states == {"done", "failed"}
    for state in set(DEFINITION.states) - DEFINITION.final_states:
        assert DEFINITION.transition(state, "fail").target == "failed"
        assert DEFINITION.transition(state, "cancel").guards == ("operator_named",)
    for state in DEFINITION.final_states:
        assert not [k for k in DEFINITION.transitions if k[0] == state]


def test_every_guard_named_by_the_chart_has_a_function() -> None:
    named = {g for t in DEFINITION.transitions.values() for g in t.guards}
    assert named <= set(GUARDS)
    assert set(GUARDS) <= named  # and no guard function is left unused


def test_definition_hash_is_stable_and_the_diagram_shows_guards() -> None:
    again = trading_definition.__wrapped__()  # type: ignore[attr-defined]
    assert again.definition_hash == DEFINITION.definition_hash
    assert "planning --> executing : Plan approved [mode_executes_orders, trades_required" in (
        DEFINITION.mermaid
    )
    assert ":::active" not in DEFINITION.mermaid
