"""Diagrams in every format, the path of a run, and the definition a run was pinned to."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.definition import trading_definition
from fsm.diagram import DiagramFormat, Step, Trace, dot, render
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


def trace_of(path: list[tuple[str, str, str]]) -> Trace:
    """A trace of the transitions ``path``, numbered from seq 2 as a run's ledger would."""
    return Trace(tuple(Step(n, s, e, t) for n, (s, e, t) in enumerate(path, 2)))


SIGNALS = trace_of([("idle", "start", "generating_signals"),
                    ("generating_signals", "signals_reported", "done")])  # fmt: skip


TEXT_FORMATS = [f for f in DiagramFormat if f is not DiagramFormat.PNG]


MACHINE = Trace()  # the chart alone


def _text(fmt: DiagramFormat, trace: Trace = MACHINE) -> str:
    return render(fmt, CANONICAL, DEFINITION.definition_hash, trace).decode()


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_format_shows_every_state_and_the_guards(fmt: DiagramFormat) -> None:
    text = _text(fmt)
    for state in ("idle", "generating_signals", "executing", "failed"):
        assert state in text
    assert "trades_required" in text
    assert "operator_named" in text


def test_mermaid_marks_the_path() -> None:
    text = _text(DiagramFormat.MERMAID, SIGNALS)
    assert "generating_signals --> done : Signals reported [signals_only_mode] ✔ seq 3" in text
    assert "idle:::taken" in text
    assert "executing:::taken" not in text


def test_dot_marks_the_path() -> None:
    text = _text(DiagramFormat.DOT, SIGNALS)
    taken = [line for line in text.splitlines() if "penwidth" in line]
    assert len(taken) == 2
    assert any("signals_reported" in line for line in taken)


SVG = {"svg": "http://www.w3.org/2000/svg"}


def test_svg_from_graphviz_shows_every_state_and_guard_and_marks_the_path() -> None:
    root = ET.fromstring(_text(DiagramFormat.SVG, SIGNALS))
    words = " ".join(t.text or "" for t in root.iterfind(".//svg:text", SVG))
    for state in CANONICAL["states"]:
        assert state.replace("_", " ").capitalize() in words
    for guard in {g for t in TRANSITIONS for g in t["guards"]}:
        assert guard in words
    edges = root.findall(".//svg:g[@class='edge']", SVG)
    folded = [t for t in TRANSITIONS if t["event"] in ("fail", "cancel")]
    # fail and cancel fold into one note (one arrow), plus the arrow into the initial state
    assert len(edges) == len(TRANSITIONS) - len(folded) + 2
    taken = [e for e in edges if e.find("svg:path[@stroke='#b8860b']", SVG) is not None]
    assert len(taken) == 2


def test_png_is_a_picture() -> None:
    assert _text_bytes(DiagramFormat.PNG).startswith(b"\x89PNG\r\n")


def _text_bytes(fmt: DiagramFormat) -> bytes:
    return render(fmt, CANONICAL, DEFINITION.definition_hash)


def test_without_graphviz_svg_is_one_line_saying_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(DiagramFormat.SVG, CANONICAL, "")
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
    canonical, definition_hash, trace = run_diagram(store, run.run_id)
    assert definition_hash == "f" * 64
    assert trace.path == PATH
    assert trace.current == "done"
    text = render(DiagramFormat.MERMAID, canonical, definition_hash, trace).decode()
    assert "guard_of_an_older_release" in text
    assert "✔" in text


def test_final_states_have_a_double_border_and_show_how_the_run_ended() -> None:
    text = dot(CANONICAL, SIGNALS)  # a path that ends in done
    assert 'done [label="Done", shape=box, style="rounded,filled", fillcolor="#d9f2dd", ' \
           "peripheries=2]" in text  # fmt: skip
    assert 'failed [label="Failed", shape=box, style="rounded", peripheries=2]' in text
    failing = trace_of([("idle", "fail", "failed")])
    assert 'style="rounded,filled", fillcolor="#fcdcdc", peripheries=2' in dot(CANONICAL, failing)
    assert 'idle [label="Idle", shape=box, style="rounded,filled", fillcolor="#ffe08a"]' in text


def test_the_state_a_run_is_in_is_drawn_bold() -> None:
    text = dot(CANONICAL, Trace(SIGNALS.steps[:1], "generating_signals"))
    [line] = [ln for ln in text.splitlines() if ln.strip().startswith("generating_signals [")]
    assert 'penwidth=3, fontname="Helvetica-Bold"' in line
    assert "penwidth=3" not in dot(CANONICAL, SIGNALS)
    at_idle = Trace(current="idle")
    root = ET.fromstring(render(DiagramFormat.SVG, CANONICAL, "h", at_idle).decode())
    bold = [t.text for t in root.iterfind(".//svg:text[@font-weight='bold']", SVG)]
    assert bold == ["Idle"]
