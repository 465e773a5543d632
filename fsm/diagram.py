"""Diagrams of a machine definition — Mermaid, DOT, SVG, Markdown — with a run's story on it.

Everything renders from the *canonical* definition (the one stored with each run), so the
diagram of an old run shows the machine it ran under even after the code has changed.
SVG and PNG are laid out and drawn by Graphviz (``dot``), as python-statemachine's own
diagrams are; the text formats need nothing installed. A run's ``Trace`` numbers the
transitions it took by ledger seq and draws its refused attempts; a ``Caption`` says which
run, which definition and when the drawing was made.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from fsm.errors import GraphvizMissing
from fsm.machines.names import TradingState as S

Edge = tuple[str, str, str]  # (source, event, target)
Path = frozenset[Edge]  # the transitions a run took
SEQS_SHOWN = 3  # seqs listed on one edge before "+N"


@dataclass(frozen=True)
class Step:
    """One ledger row of a run on the chart: accepted (``target`` set) or refused, with the
    guards that refused it."""

    seq: int
    source: str
    event: str
    target: str | None
    refused_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trace:
    """What a run did on the chart: its ledger rows in seq order and the state it is in.
    Equal traces draw equal pictures, so a drawing can be kept per trace."""

    steps: tuple[Step, ...] = ()
    current: str | None = None

    @property
    def path(self) -> Path:
        return frozenset((s.source, s.event, s.target) for s in self.steps if s.target)

    @property
    def head(self) -> int:
        return self.steps[-1].seq if self.steps else 0

    def seqs(self, edge: Edge) -> list[int]:
        return [s.seq for s in self.steps if (s.source, s.event, s.target) == edge]

    def refusals(self) -> dict[tuple[str, str], list[Step]]:
        """Refused attempts by (state, event), in seq order."""
        found: dict[tuple[str, str], list[Step]] = {}
        for step in self.steps:
            if step.target is None:
                found.setdefault((step.source, step.event), []).append(step)
        return found


@dataclass(frozen=True)
class Caption:
    """Which run (None: the machine alone), which definition, and when it was drawn."""

    definition_hash: str
    generated_at: datetime
    run_id: str | None = None

    def text(self) -> str:
        run = f"run {self.run_id} · " if self.run_id else ""
        when = self.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{run}definition {self.definition_hash} · generated {when}"


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _numbered(seqs: list[int]) -> str:
    shown = ", ".join(str(n) for n in seqs[:SEQS_SHOWN])
    more = f" +{len(seqs) - SEQS_SHOWN}" if len(seqs) > SEQS_SHOWN else ""
    return f"{shown}{more}. " if seqs else ""


def mermaid(canonical: dict[str, Any], trace: Trace = Trace()) -> str:
    lines = ["stateDiagram-v2", "    direction LR"]
    lines += [f'    state "{_title(s)}" as {s}' for s in canonical["states"]]
    lines.append(f"    [*] --> {canonical['initial']}")
    lines += [f"    {s} --> [*]" for s in canonical["final_states"]]
    for t in canonical["transitions"]:
        guards = f" [{', '.join(t['guards'])}]" if t["guards"] else ""
        seqs = trace.seqs((t["source"], t["event"], t["target"]))
        taken = f" ✔ seq {', '.join(map(str, seqs))}" if seqs else ""
        lines.append(f"    {t['source']} --> {t['target']} : {_title(t['event'])}{guards}{taken}")
    visited = _visited(trace.path)
    if visited:
        lines.append(f"    classDef taken fill:{VISITED},stroke:#b8860b,stroke-width:2px")
        lines += [f"    {s}:::taken" for s in canonical["states"] if s in visited]
    return "\n".join(lines) + "\n"


VISITED = "#ffe08a"  # a state the run went through
# How it ended: green or red.
VISITED_FILL: dict[str, str] = {S.DONE: "#d9f2dd", S.FAILED: "#fcdcdc"}
CURRENT = ', penwidth=3, fontname="Helvetica-Bold"'  # the state a run is in
TAKEN = ', color="#b8860b", fontcolor="#7a5a00", penwidth=2.5'
REFUSED = ', style=dashed, color="#b3261e", fontcolor="#b3261e"'
NOTE = 'shape=note, fontsize=10, style=filled, fillcolor="#f6f7f9", color="#8a939c"'


def folded(canonical: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per target, the transitions that leave every unfinished state for it alike (same event,
    same guards) — ``fail`` and ``cancel`` into Failed: drawn as one note, not as a curve
    from each state."""
    unfinished = [s for s in canonical["states"] if s not in canonical["final_states"]]
    groups: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for t in canonical["transitions"]:
        groups.setdefault((t["event"], t["target"], tuple(t["guards"])), []).append(t)
    notes: dict[str, list[dict[str, Any]]] = {}
    for (_, target, _), members in groups.items():
        if sorted(t["source"] for t in members) == sorted(s for s in unfinished if s != target):
            notes.setdefault(target, []).extend(members)
    return notes


def dot(canonical: dict[str, Any], trace: Trace = Trace(), caption: Caption | None = None,
        direction: Literal["LR", "TB"] = "LR") -> str:  # fmt: skip
    """The chart in Graphviz's language: guards one a line, the transitions every state has
    alike folded into a note, a run's path numbered by ledger seq, its refused attempts as
    dashed red loops, the state it is in bold, and a caption. ``direction`` TB (top to bottom)
    fits a page's narrow column; LR (left to right) a screen."""
    lines = [f'digraph "{canonical["name"]}" {{', f"    rankdir={direction};",
             '    node [shape=box, style="rounded", fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];', '    __start [shape=point];',
             f"    __start -> {canonical['initial']};"]  # fmt: skip
    lines += _states(canonical, trace)
    notes = folded(canonical)
    hidden = {id(t) for members in notes.values() for t in members}
    for t in canonical["transitions"]:
        edge = (t["source"], t["event"], t["target"])
        if id(t) not in hidden or edge in trace.path:  # a folded edge the run took is drawn
            lines.append(_edge(t, trace.seqs(edge)))
    lines += _notes(notes)
    lines += _refusals(trace)
    if caption is not None:
        lines.append(f'    labelloc=b; labeljust=l; fontname="Helvetica"; fontsize=10; '
                     f'label="{caption.text()}";')  # fmt: skip
    lines.append("}")
    return "\n".join(lines) + "\n"


def _states(canonical: dict[str, Any], trace: Trace) -> list[str]:
    visited, lines = _visited(trace.path), []
    for state in canonical["states"]:
        style = ["rounded"] + (["filled"] if state in visited else [])
        final = ", peripheries=2" if state in canonical["final_states"] else ""  # a double border
        final += CURRENT if state == trace.current else ""
        fill = f', fillcolor="{VISITED_FILL.get(state, VISITED)}"' if state in visited else ""
        lines.append(f'    {state} [label="{_title(state)}", shape=box, '
                     f'style="{",".join(style)}"{fill}{final}];')  # fmt: skip
    return lines


def _edge(t: dict[str, Any], seqs: list[int]) -> str:
    guards = "".join(f"\\n[{g}]" for g in t["guards"])  # one guard a line: narrow labels
    extra = TAKEN if seqs else ""
    label = f"{_numbered(seqs)}{t['event']}{guards}"
    return f'    {t["source"]} -> {t["target"]} [label="{label}"{extra}];'


def _notes(notes: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    for n, (target, members) in enumerate(notes.items()):
        events = dict.fromkeys(
            t["event"] + "".join(f" [{g}]" for g in t["guards"]) for t in members
        )
        label = "from any unfinished state:\\l" + "".join(f"  {e}\\l" for e in events)
        lines.append(f'    __folded{n} [label="{label}", {NOTE}];')
        lines.append(f'    __folded{n} -> {target} [style=dashed, color="#8a939c"];')
        lines.append(f"    {{rank=same; __folded{n}; {target}}}")  # beside it, out of the way
    return lines


def _refusals(trace: Trace) -> list[str]:
    """Each state's refused attempts as a dashed red loop out of it and back, through its
    label: a node of its own, which the layout keeps clear of every other line and label."""
    lines = []
    for n, ((source, event), steps) in enumerate(trace.refusals().items()):
        guards = dict.fromkeys(g for s in steps for g in s.refused_by)
        why = "".join(f"\\n[{g}]" for g in guards)
        label = f"{_numbered([s.seq for s in steps])}{event} refused{why}"
        lines.append(f'    __refused{n} [label="{label}", shape=plain, fontsize=10, '
                     'fontcolor="#b3261e"];')  # fmt: skip
        lines.append(f"    {source} -> __refused{n} [arrowhead=none{REFUSED}];")
        lines.append(f"    __refused{n} -> {source} [{REFUSED[2:]}];")
        lines.append(f"    {{rank=same; {source}; __refused{n}}}")
    return lines


def table(canonical: dict[str, Any]) -> str:
    """Every transition as a Markdown table: from, event, to, guards."""
    rows = "".join(
        f"| {t['source']} | {t['event']} | {t['target']} | {', '.join(t['guards']) or '—'} |\n"
        for t in canonical["transitions"]
    )
    return "| from | event | to | guards |\n| --- | --- | --- | --- |\n" + rows


def markdown(canonical: dict[str, Any], definition_hash: str, trace: Trace = Trace(),
             caption: Caption | None = None) -> str:  # fmt: skip
    said = f"{caption.text()}\n\n" if caption is not None else ""
    return (
        f"{said}Definition hash: `{definition_hash}`\n\n```mermaid\n{mermaid(canonical, trace)}"
        "```\n\n" + table(canonical)
    )


def _visited(path: Path) -> set[str]:
    return {s for edge in path for s in (edge[0], edge[2])}


# ---- Graphviz: SVG and PNG -------------------------------------------------------------------

GRAPHVIZ_HINT = (
    "Graphviz's `dot` is needed for svg and png: install it (`apt-get install graphviz`, "
    "`brew install graphviz`, `dnf install graphviz`), or use --format dot or mermaid"
)


def graphviz(dot_text: str, output: str) -> bytes:
    """``dot_text`` laid out and drawn by Graphviz's ``dot`` as ``output`` (svg, png, json)."""
    dot_binary = shutil.which("dot")
    if dot_binary is None:
        raise GraphvizMissing(GRAPHVIZ_HINT)
    done = subprocess.run(
        [dot_binary, f"-T{output}"], input=dot_text.encode(), capture_output=True, timeout=60,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise GraphvizMissing(f"Graphviz failed: {detail[0] if detail else done.returncode}")
    return done.stdout


class DiagramFormat(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"
    PNG = "png"
    MD = "md"


def render(fmt: DiagramFormat, canonical: dict[str, Any], definition_hash: str,
           trace: Trace = Trace(), caption: Caption | None = None) -> bytes:  # fmt: skip
    """The diagram in ``fmt``, as bytes (PNG is binary; the others are UTF-8 text); the
    caption goes into the drawing (SVG, PNG, DOT) and on top of Markdown."""
    if fmt in (DiagramFormat.SVG, DiagramFormat.PNG):
        return graphviz(dot(canonical, trace, caption), fmt.value)
    if fmt is DiagramFormat.MD:
        return markdown(canonical, definition_hash, trace, caption).encode()
    if fmt is DiagramFormat.DOT:
        return dot(canonical, trace, caption).encode()
    return mermaid(canonical, trace).encode()
