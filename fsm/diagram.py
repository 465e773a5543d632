"""Diagrams of a machine definition — Mermaid, DOT, SVG, Markdown — with a run's path marked.

Everything renders from the *canonical* definition (the one stored with each run), so the
diagram of an old run shows the machine it ran under even after the code has changed.
SVG and PNG are laid out and drawn by Graphviz (``dot``), as python-statemachine's own
diagrams are; the text formats need nothing installed.
"""

from __future__ import annotations

import shutil
import subprocess
from enum import StrEnum
from typing import Any

from fsm.errors import GraphvizMissing

Path = frozenset[tuple[str, str, str]]  # (source, event, target) the run took


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _edges(canonical: dict[str, Any]) -> list[dict[str, Any]]:
    return list(canonical["transitions"])


def mermaid(canonical: dict[str, Any], path: Path = frozenset()) -> str:
    lines = ["stateDiagram-v2", "    direction LR"]
    lines += [f'    state "{_title(s)}" as {s}' for s in canonical["states"]]
    lines.append(f"    [*] --> {canonical['initial']}")
    lines += [f"    {s} --> [*]" for s in canonical["final_states"]]
    for t in _edges(canonical):
        guards = f" [{', '.join(t['guards'])}]" if t["guards"] else ""
        taken = " ✔" if (t["source"], t["event"], t["target"]) in path else ""
        lines.append(f"    {t['source']} --> {t['target']} : {_title(t['event'])}{guards}{taken}")
    visited = _visited(path)
    if visited:
        lines.append(f"    classDef taken fill:{VISITED},stroke:#b8860b,stroke-width:2px")
        lines += [f"    {s}:::taken" for s in canonical["states"] if s in visited]
    return "\n".join(lines) + "\n"


VISITED = "#ffe08a"  # a state the run went through
VISITED_FILL = {"done": "#d9f2dd", "failed": "#fcdcdc"}  # how it ended: green or red
CURRENT = ', penwidth=3, fontname="Helvetica-Bold"'  # the state a run is in


def dot(canonical: dict[str, Any], path: Path = frozenset(), current: str | None = None) -> str:
    """The chart in Graphviz's language; a run's ``path`` highlighted and the state it is in
    (``current``) drawn bold."""
    visited = _visited(path)
    lines = [f'digraph "{canonical["name"]}" {{', "    rankdir=LR;",
             '    node [shape=box, style="rounded", fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];', '    __start [shape=point];',
             f"    __start -> {canonical['initial']};"]  # fmt: skip
    for state in canonical["states"]:
        style = ["rounded"] + (["filled"] if state in visited else [])
        final = ", peripheries=2" if state in canonical["final_states"] else ""  # a double border
        final += CURRENT if state == current else ""
        fill = f', fillcolor="{VISITED_FILL.get(state, VISITED)}"' if state in visited else ""
        lines.append(f'    {state} [label="{_title(state)}", shape=box, '
                     f'style="{",".join(style)}"{fill}{final}];')  # fmt: skip
    for t in _edges(canonical):
        guards = "".join(f"\\n[{g}]" for g in t["guards"])  # one guard a line: narrow labels
        taken = (t["source"], t["event"], t["target"]) in path
        extra = ', color="#b8860b", penwidth=2.5' if taken else ""
        lines.append(f'    {t["source"]} -> {t["target"]} [label="{t["event"]}{guards}"{extra}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def markdown(canonical: dict[str, Any], definition_hash: str, path: Path = frozenset()) -> str:
    rows = "\n".join(
        f"| {t['source']} | {t['event']} | {t['target']} | {', '.join(t['guards']) or '—'} |"
        for t in _edges(canonical)
    )
    return (
        f"Definition hash: `{definition_hash}`\n\n```mermaid\n{mermaid(canonical, path)}```\n\n"
        "| from | event | to | guards |\n| --- | --- | --- | --- |\n" + rows + "\n"
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
           path: Path, current: str | None = None) -> bytes:  # fmt: skip
    """The diagram in ``fmt``, as bytes (PNG is binary; the others are UTF-8 text); SVG and
    PNG draw the ``current`` state bold."""
    if fmt in (DiagramFormat.SVG, DiagramFormat.PNG):
        return graphviz(dot(canonical, path, current), fmt.value)
    if fmt is DiagramFormat.MD:
        return markdown(canonical, definition_hash, path).encode()
    return {"mermaid": mermaid, "dot": dot}[fmt.value](canonical, path).encode()
