"""Diagrams in every format, the path of a run, and the definition a run was pinned to."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.definition import trading_definition
from fsm.diagram import DiagramFormat, dot, graphviz, render
from fsm.errors import GraphvizMissing
from fsm.kinds import Mode
from fsm.records import Definition
from fsm.requests import RunRequest
from fsm.views import run_diagram
from tests.conftest import TRADING_DAY, make_engine_for

DEFINITION = trading_definition()
CANONICAL = DEFINITION.canonical()
TRANSITIONS = CANONICAL["transitions"]
PATH = frozenset({("idle", "start", "generating_signals"),
                  ("generating_signals", "signals_reported", "done")})  # fmt: skip


TEXT_FORMATS = [f for f in DiagramFormat if f is not DiagramFormat.PNG]


def _text(fmt: DiagramFormat, path: frozenset[tuple[str, str, str]] = frozenset()) -> str:
    return render(fmt, CANONICAL, DEFINITION.definition_hash, path).decode()


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_format_shows_every_state_and_the_guards(fmt: DiagramFormat) -> None:
    text = _text(fmt)
    for state in ("idle", "generating_signals", "executing", "failed"):
        assert state in text
    assert "trades_required" in text
    assert "operator_named" in text


def test_mermaid_marks_the_path() -> None:
    text = _text(DiagramFormat.MERMAID, PATH)
    assert "generating_signals --> done : Signals reported [signals_only_mode] ✔" in text
    assert "idle:::taken" in text
    assert "executing:::taken" not in text


def test_dot_marks_the_path() -> None:
    text = _text(DiagramFormat.DOT, PATH)
    taken = [line for line in text.splitlines() if "penwidth" in line]
    assert len(taken) == 2
    assert any("signals_reported" in line for line in taken)


SVG = {"svg": "http://www.w3.org/2000/svg"}


def test_svg_from_graphviz_shows_every_state_and_guard_and_marks_the_path() -> None:
    root = ET.fromstring(_text(DiagramFormat.SVG, PATH))
    words = " ".join(t.text or "" for t in root.iterfind(".//svg:text", SVG))
    for state in CANONICAL["states"]:
        assert state.replace("_", " ").capitalize() in words
    for guard in {g for t in TRANSITIONS for g in t["guards"]}:
        assert guard in words
    edges = root.findall(".//svg:g[@class='edge']", SVG)
    assert len(edges) == len(TRANSITIONS) + 1  # and the arrow into the initial state
    taken = [e for e in edges if e.find("svg:path[@stroke='#b8860b']", SVG) is not None]
    assert len(taken) == 2


def test_png_is_a_picture() -> None:
    assert _text_bytes(DiagramFormat.PNG).startswith(b"\x89PNG\r\n")


def _text_bytes(fmt: DiagramFormat) -> bytes:
    return render(fmt, CANONICAL, DEFINITION.definition_hash, frozenset())


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _label_boxes(layout: dict[str, Any]) -> list[tuple[str, Box]]:
    """Each edge label's box, from the text Graphviz placed (its lines stacked)."""
    boxes = []
    for edge in layout["edges"]:
        lines = [op for op in edge.get("_ldraw_", []) if op["op"] == "T"]
        sizes = [op["size"] for op in edge.get("_ldraw_", []) if op["op"] == "F"]
        if not lines:
            continue
        height = max(sizes)
        x0 = min(op["pt"][0] - op["width"] / 2 for op in lines)
        x1 = max(op["pt"][0] + op["width"] / 2 for op in lines)
        y0 = min(op["pt"][1] for op in lines) - height * 0.25
        y1 = max(op["pt"][1] for op in lines) + height * 0.75
        boxes.append((lines[0]["text"], (x0, y0, x1, y1)))
    return boxes


def _state_boxes(layout: dict[str, Any]) -> list[tuple[str, Box]]:
    boxes = []
    for node in layout["objects"]:
        if node["name"] == "__start":
            continue
        x, y = (float(v) for v in node["pos"].split(","))
        w, h = float(node["width"]) * 72 / 2, float(node["height"]) * 72 / 2
        boxes.append((node["name"], (x - w, y - h, x + w, y + h)))
    return boxes


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_no_label_overlaps_another_or_a_state() -> None:
    layout = json.loads(graphviz(dot(CANONICAL, PATH), "json"))
    labels, states = _label_boxes(layout), _state_boxes(layout)
    assert len(labels) == len(TRANSITIONS)
    clashes = [
        (a, b) for (a, box_a), (b, box_b) in itertools.combinations(labels + states, 2)
        if (a, box_a) in labels and _overlap(box_a, box_b)
    ]  # fmt: skip
    assert clashes == []


def test_without_graphviz_svg_is_one_line_saying_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(DiagramFormat.SVG, CANONICAL, "", frozenset())
    assert _text(DiagramFormat.DOT).startswith("digraph")  # the text formats need nothing


def test_a_run_is_drawn_with_the_definition_it_ran_under(tmp_path: Path) -> None:
    store = MemoryRunStore()
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY))
    old = dict(CANONICAL, transitions=[
        dict(t, guards=[*t["guards"], "guard_of_an_older_release"]) for t in TRANSITIONS
    ])  # fmt: skip
    pinned = Definition(definition_hash="f" * 64, canonical=old, mermaid="stateDiagram-v2\n")
    store.ensure_definition(pinned)
    # A run of an older release (one still unfinished would be stranded: nothing drives it)
    run = engine.run(RunRequest(account_id="paper", mode=Mode.SIGNALS_ONLY))
    store._runs[run.run_id] = run.model_copy(update={"definition_hash": pinned.definition_hash})
    canonical, definition_hash, path = run_diagram(store, run.run_id)
    assert definition_hash == "f" * 64
    assert path == PATH
    text = render(DiagramFormat.MERMAID, canonical, definition_hash, path).decode()
    assert "guard_of_an_older_release" in text
    assert "✔" in text
