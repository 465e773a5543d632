"""The chart's names are declared once: the enums agree with the chart, and a spec names its
timeout setting by reference, refused when it reads no setting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fsm.definition import trading_definition
from fsm.errors import MachineDefinitionError
from fsm.machines.names import CREATED, TradingEvent, TradingState
from fsm.machines.specs import APPROVAL, TRADING_SPECS
from fsm.settings import Settings
from fsm.signatures import DECISIONS
from fsm.spec import StateSpec

DEFINITION = trading_definition()
FSM = Path(__file__).parents[2] / "fsm"
NAMES = set(DEFINITION.states) | set(DEFINITION.events)


def test_the_names_are_the_charts_states_and_events() -> None:
    assert [s.value for s in TradingState] == list(DEFINITION.states)
    assert {e.value for e in TradingEvent} == set(DEFINITION.events)
    assert CREATED not in DEFINITION.events  # the ledger's first row, before the chart starts
    assert {TradingState.DONE, TradingState.FAILED} == DEFINITION.final_states


def test_a_timeout_is_a_settings_field_read_by_reference() -> None:
    executing = TRADING_SPECS[TradingState.EXECUTING]
    assert executing.as_json()["timeout"] == "execution_timeout_seconds"
    assert executing.timeout_seconds(Settings(execution_timeout_seconds=7)) == 7
    planning = TRADING_SPECS[TradingState.PLANNING]
    assert planning.as_json()["timeout"] == "step_timeout_seconds"
    assert planning.timeout_seconds(Settings(step_timeout_seconds=3)) == 3
    assert TRADING_SPECS[TradingState.IDLE].timeout_seconds(Settings()) is None


def test_a_timeout_that_reads_no_setting_is_refused_when_the_spec_is_built() -> None:
    with pytest.raises(MachineDefinitionError, match="does not read one Settings field"):
        StateSpec(None, (), timeout=lambda s: 5.0)


def test_what_a_person_may_decide_on_a_parked_plan_is_declared_on_its_spec() -> None:
    assert TRADING_SPECS.parked_states == {TradingState.AWAITING_APPROVAL}
    approved = TRADING_SPECS.decision(TradingState.AWAITING_APPROVAL, TradingEvent.APPROVED)
    assert approved is not None
    assert (approved.verb, approved.policy_now, approved.halted) == ("approve", True, "approving")
    assert TRADING_SPECS.decision(TradingState.EXECUTING, TradingEvent.APPROVED) is None
    assert DECISIONS == {"approved": "approve", "rejected": "reject"}  # what signers sign
    assert set(APPROVAL.decisions) == set(TRADING_SPECS[TradingState.AWAITING_APPROVAL].events)
    stand_downs = {s for s, spec in TRADING_SPECS.items() if spec.stand_down is not None}
    assert stand_downs == {TradingState.EXECUTING}


def _names_compared(path: Path) -> list[str]:
    """Chart names a module compares with a string literal (``state == "executing"``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            sides += [e for s in sides if isinstance(s, ast.Tuple | ast.Set) for e in s.elts]
            found += [f"{path.name}:{node.lineno} {s.value}" for s in sides
                      if isinstance(s, ast.Constant) and s.value in NAMES]  # fmt: skip
    return found


@pytest.mark.parametrize("module", ["driver.py", "engine.py", "decisions.py", "spec.py",
                                    "steps/runner.py"])  # fmt: skip
def test_the_driver_and_engine_never_test_a_state_by_its_name(module: str) -> None:
    assert _names_compared(FSM / module) == []
