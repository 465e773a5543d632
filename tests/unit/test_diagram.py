"""Diagrams in every format, the path of a run, and the definition a run was pinned to."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.definition import trading_definition
from fsm.diagram import DiagramFormat, render
from fsm.engine import RunRequest
from fsm.records import Definition, Mode
from fsm.views import run_diagram
from tests.conftest import TRADING_DAY, make_engine_for

DEFINITION = trading_definition()
CANONICAL = DEFINITION.canonical()
TRANSITIONS = CANONICAL["transitions"]
PATH = frozenset({("idle", "start", "generating_signals"),
                  ("generating_signals", "signals_reported", "done")})  # fmt: skip


@pytest.mark.parametrize("fmt", list(DiagramFormat))
def test_every_format_shows_every_state_and_the_guards(fmt: DiagramFormat) -> None:
    text = render(fmt, CANONICAL, DEFINITION.definition_hash, frozenset())
    for state in ("idle", "generating_signals", "executing", "failed"):
        assert state in text
    assert "trades_required" in text
    assert "operator_named" in text


def test_mermaid_marks_the_path() -> None:
    text = render(DiagramFormat.MERMAID, CANONICAL, "", PATH)
    assert "generating_signals --> done : Signals reported [signals_only_mode] ✔" in text
    assert "idle:::taken" in text
    assert "executing:::taken" not in text


def test_dot_marks_the_path() -> None:
    text = render(DiagramFormat.DOT, CANONICAL, "", PATH)
    taken = [line for line in text.splitlines() if "penwidth" in line]
    assert len(taken) == 2
    assert any("signals_reported" in line for line in taken)


def test_svg_is_well_formed_and_marks_the_path() -> None:
    root = ET.fromstring(render(DiagramFormat.SVG, CANONICAL, "", PATH))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    states = root.findall("svg:g[@class='state']", ns)
    assert len(states) == len(CANONICAL["states"])
    taken = root.findall("svg:g[@class='edge taken']", ns)
    assert len(taken) == 2
    assert len(root.findall("svg:g", ns)) == len(states) + len(CANONICAL["transitions"])


def test_a_run_is_drawn_with_the_definition_it_ran_under(tmp_path: Path) -> None:
    store = MemoryRunStore()
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY))
    old = dict(CANONICAL, transitions=[
        dict(t, guards=[*t["guards"], "guard_of_an_older_release"]) for t in TRANSITIONS
    ])  # fmt: skip
    pinned = Definition(definition_hash="f" * 64, canonical=old, mermaid="stateDiagram-v2\n")
    store.ensure_definition(pinned)
    run = engine.create(RunRequest(account_id="paper", mode=Mode.SIGNALS_ONLY))
    store._runs[run.run_id] = run.model_copy(update={"definition_hash": pinned.definition_hash})
    engine.resume(run.run_id)
    canonical, definition_hash, path = run_diagram(store, run.run_id)
    assert definition_hash == "f" * 64
    assert path == PATH
    text = render(DiagramFormat.MERMAID, canonical, definition_hash, path)
    assert "guard_of_an_older_release" in text
    assert "✔" in text
