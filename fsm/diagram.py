"""Diagrams of a machine definition — Mermaid, DOT, SVG, Markdown — with a run's path marked.

Everything renders from the *canonical* definition (the one stored with each run), so the
diagram of an old run shows the machine it ran under even after the code has changed.
SVG is laid out here, in pure Python: no Graphviz needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from html import escape
from typing import Any

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
        lines.append("    classDef taken fill:#ffe08a,stroke:#b8860b,stroke-width:2px")
        lines += [f"    {s}:::taken" for s in canonical["states"] if s in visited]
    return "\n".join(lines) + "\n"


def dot(canonical: dict[str, Any], path: Path = frozenset()) -> str:
    visited = _visited(path)
    lines = [f'digraph "{canonical["name"]}" {{', "    rankdir=LR;",
             '    node [shape=box, style="rounded"];', '    __start [shape=point];',
             f"    __start -> {canonical['initial']};"]  # fmt: skip
    for state in canonical["states"]:
        style = ["rounded"] + (["filled"] if state in visited else [])
        shape = "doubleoctagon" if state in canonical["final_states"] else "box"
        fill = ', fillcolor="#ffe08a"' if state in visited else ""
        lines.append(f'    {state} [label="{_title(state)}", shape={shape}, '
                     f'style="{",".join(style)}"{fill}];')  # fmt: skip
    for t in _edges(canonical):
        guards = f"\\n[{', '.join(t['guards'])}]" if t["guards"] else ""
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


# ---- SVG ------------------------------------------------------------------------------------

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 44, 110, 150, 30


def _ranks(canonical: dict[str, Any]) -> dict[str, int]:
    """Columns: distance from the initial state along the transitions; final states last."""
    rank = {canonical["initial"]: 0}
    frontier = [canonical["initial"]]
    while frontier:
        nxt = []
        for t in _edges(canonical):
            if t["source"] in frontier and t["target"] not in rank:
                rank[t["target"]] = rank[t["source"]] + 1
                nxt.append(t["target"])
        frontier = nxt
    last = max([r for s, r in rank.items() if s not in canonical["final_states"]], default=0) + 1
    for state in canonical["states"]:
        rank[state] = last if state in canonical["final_states"] else rank.get(state, last)
    return rank


def _positions(canonical: dict[str, Any]) -> dict[str, tuple[int, int]]:
    rank, rows = _ranks(canonical), {}
    used: dict[int, int] = {}
    for state in canonical["states"]:
        column = rank[state]
        rows[state] = (column, used.get(column, 0))
        used[column] = used.get(column, 0) + 1
    return {s: (MARGIN + c * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y)) for s, (c, r) in
            rows.items()}  # fmt: skip


def svg(canonical: dict[str, Any], path: Path = frozenset()) -> str:
    at = _positions(canonical)
    width = max(x for x, _ in at.values()) + BOX_W + MARGIN
    height = max(y for _, y in at.values()) + BOX_H + MARGIN + 40
    visited = _visited(path)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/>'
        "</marker></defs>",
        f"<title>{escape(canonical['name'])}</title>",
    ]
    parts += _svg_edges(canonical, at, path)
    for state, (x, y) in at.items():
        fill = "#ffe08a" if state in visited else "#ffffff"
        border = 3 if state in canonical["final_states"] else 1.5
        parts.append(
            f'<g class="state" id="state-{state}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="10" fill="{fill}" stroke="#333" stroke-width="{border}"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}" text-anchor="middle" '
            f'font-size="13">{escape(_title(state))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_edges(
    canonical: dict[str, Any], at: dict[str, tuple[int, int]], path: Path
) -> Iterable[str]:
    seen: dict[tuple[str, str], int] = {}
    for t in _edges(canonical):
        pair = (t["source"], t["target"])
        lane = seen[pair] = seen.get(pair, -1) + 1
        (sx, sy), (tx, ty) = at[t["source"]], at[t["target"]]
        x1, y1 = sx + BOX_W, sy + BOX_H / 2 + lane * 8
        x2, y2 = (tx, ty + BOX_H / 2 + lane * 8) if tx > sx else (tx + BOX_W / 2, ty)
        taken = (t["source"], t["event"], t["target"]) in path
        colour, stroke = ("#b8860b", 3) if taken else ("#555", 1.2)
        label = t["event"] + (f" [{', '.join(t['guards'])}]" if t["guards"] else "")
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - 4 + lane * 12
        yield (
            f'<g class="edge{" taken" if taken else ""}"><path d="M {x1} {y1} L {x2} {y2}" '
            f'stroke="{colour}" stroke-width="{stroke}" fill="none" marker-end="url(#arrow)"/>'
            f'<text x="{mx}" y="{my}" text-anchor="middle" fill="{colour}">'
            f"{escape(label if len(label) < 60 else t['event'] + ' […]')}</text></g>"
        )


class DiagramFormat(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"
    MD = "md"


def render(fmt: DiagramFormat, canonical: dict[str, Any], definition_hash: str,
           path: Path) -> str:  # fmt: skip
    if fmt is DiagramFormat.MD:
        return markdown(canonical, definition_hash, path)
    return {"mermaid": mermaid, "dot": dot, "svg": svg}[fmt.value](canonical, path)
