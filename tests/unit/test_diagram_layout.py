"""The drawing as Graphviz lays it out (``dot -Tjson``): for the machine alone and for runs of
every kind, no label overlaps another label, a state, the note or any other line; the whole
chart fits 2400 px at 96 dpi; fail and cancel fold into one note; the path is numbered by
ledger seq; refused attempts are dashed red loops; the caption names run, definition and time."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from fsm.definition import trading_definition
from fsm.diagram import Caption, DiagramFormat, Step, Trace, dot, graphviz, render

DEFINITION = trading_definition()
CANONICAL = DEFINITION.canonical()
TRANSITIONS = CANONICAL["transitions"]
CAPTION = Caption(DEFINITION.definition_hash, datetime(2026, 12, 5, 7, 30, tzinfo=UTC),
                  "run_01jz3k4m5n6p7q8r9s0t1v2w3x")  # fmt: skip
TO_PLANNING = (Step(2, "idle", "start", "generating_signals"),
               Step(3, "generating_signals", "signals_generated", "analyzing"),
               Step(4, "analyzing", "rebalance_needed", "planning"))  # fmt: skip
TRACES = {
    "machine": Trace(),
    "done": Trace((*TO_PLANNING, Step(5, "planning", "plan_approved", "executing"),
                   Step(6, "executing", "execution_completed", "done")), "done"),
    "refused by a guard": Trace((*TO_PLANNING,
                                 Step(5, "planning", "plan_approved", None, ("max_orders",)),
                                 Step(6, "planning", "fail", "failed")), "failed"),
    "refused approvals, then cancelled": Trace((
        *TO_PLANNING, Step(5, "planning", "approval_required", "awaiting_approval"),
        Step(6, "awaiting_approval", "approved", None, ("four_eyes",)),
        Step(7, "awaiting_approval", "approved", None, ("four_eyes", "approval_signed")),
        Step(8, "awaiting_approval", "cancel", "failed")), "failed"),
    "waiting": Trace((*TO_PLANNING,
                      Step(5, "planning", "approval_required", "awaiting_approval")),
                     "awaiting_approval"),
}  # fmt: skip

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in points
Point = tuple[float, float]


def _layout(trace: Trace) -> dict[str, Any]:
    return json.loads(graphviz(dot(CANONICAL, trace, CAPTION), "json"))  # type: ignore[no-any-return]


def _node_box(node: dict[str, Any]) -> Box:
    x, y = (float(v) for v in node["pos"].split(","))
    w, h = float(node["width"]) * 72 / 2, float(node["height"]) * 72 / 2
    return (x - w, y - h, x + w, y + h)


def _labels(layout: dict[str, Any]) -> list[tuple[str, int | None, Box]]:
    """Each label's box: edge labels (their lines stacked), and the refused loops' labels,
    which are nodes of their own. With the edge it belongs to (None: a node)."""
    found: list[tuple[str, int | None, Box]] = []
    for n, edge in enumerate(layout["edges"]):
        ops = edge.get("_ldraw_", [])
        lines = [op for op in ops if op["op"] == "T"]
        if lines:
            height = max(op["size"] for op in ops if op["op"] == "F")
            box = (min(op["pt"][0] - op["width"] / 2 for op in lines),
                   min(op["pt"][1] for op in lines) - height * 0.25,
                   max(op["pt"][0] + op["width"] / 2 for op in lines),
                   max(op["pt"][1] for op in lines) + height * 0.75)  # fmt: skip
            found.append((lines[0]["text"], n, box))
    found += [(node["label"], None, _node_box(node)) for node in layout["objects"]
              if node["name"].startswith("__refused")]  # fmt: skip
    return found


def _shapes(layout: dict[str, Any]) -> list[tuple[str, Box]]:
    """The states and the note."""
    return [(node["name"], _node_box(node)) for node in layout["objects"] if "pos" in node
            and node["name"] != "__start" and not node["name"].startswith("__refused")]  # fmt: skip


def _lines(layout: dict[str, Any]) -> dict[int, list[Point]]:
    """Each edge's drawn curve, sampled along its Bézier segments."""
    lines = {}
    for n, edge in enumerate(layout["edges"]):
        points: list[Point] = []
        for op in edge.get("_draw_", []):
            if op["op"] in ("b", "B"):
                points += _sampled(op["points"])
        lines[n] = points
    return lines


def _sampled(control: list[list[float]], steps: int = 24) -> list[Point]:
    points = []
    for k in range(0, len(control) - 3, 3):
        p0, p1, p2, p3 = control[k : k + 4]
        for i in range(steps + 1):
            t = i / steps
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
            points.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                           a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))  # fmt: skip
    return points


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(p: Point, box: Box) -> bool:
    return box[0] < p[0] < box[2] and box[1] < p[1] < box[3]


@pytest.mark.parametrize("trace", TRACES.values(), ids=TRACES.keys())
def test_no_label_overlaps_another_label_a_shape_or_a_line(trace: Trace) -> None:
    layout = _layout(trace)
    labels, shapes, lines = _labels(layout), _shapes(layout), _lines(layout)
    assert len(labels) > len(CANONICAL["states"])
    clashes = [(a, b) for (a, _, box_a), (b, _, box_b) in itertools.combinations(labels, 2)
               if _overlap(box_a, box_b)]  # fmt: skip
    clashes += [(a, b) for a, _, box in labels for b, shape in shapes if _overlap(box, shape)]
    crossed = [(a, n) for a, own, box in labels for n, points in lines.items()
               if n != own and any(_inside(p, box) for p in points)]  # fmt: skip
    assert (clashes, crossed) == ([], [])


@pytest.mark.parametrize("trace", TRACES.values(), ids=TRACES.keys())
def test_the_whole_chart_fits_2400_px_at_96_dpi(trace: Trace) -> None:
    """One guard a line keeps the labels narrow: the drawing was 6241 px wide with each edge's
    guards on one line, shrunk on the run page until its labels were 3-5 px high."""
    left, _, right, _ = (float(v) for v in _layout(trace)["bb"].split(","))
    assert (right - left) * 96 / 72 <= 2400  # points to pixels
    label = next(t for t in TRANSITIONS if len(t["guards"]) > 1)
    lines = dot(CANONICAL).split(f'label="{label["event"]}', 1)[1].split('"', 1)[0]
    assert lines == "".join(f"\\n[{g}]" for g in label["guards"])


def test_fail_and_cancel_fold_into_one_note_unless_the_run_took_them() -> None:
    machine = dot(CANONICAL)
    assert '-> failed [label="fail"' not in machine
    assert '-> failed [label="cancel' not in machine
    assert 'label="from any unfinished state:\\l  fail\\l  cancel [operator_named]\\l"' in machine
    assert "rejected" in machine  # a transition of one state stays an edge of its own
    cancelled = dot(CANONICAL, TRACES["refused approvals, then cancelled"])
    [line] = [ln for ln in cancelled.splitlines() if "8. cancel" in ln]
    assert line.startswith("    awaiting_approval -> failed")
    assert 'color="#b8860b"' in line


def test_the_path_is_numbered_by_ledger_seq_and_refusals_are_dashed_red_loops() -> None:
    text = dot(CANONICAL, TRACES["refused approvals, then cancelled"])
    for label in ("2. start", "3. signals_generated", "4. rebalance_needed",
                  "5. approval_required"):  # fmt: skip
        assert f'label="{label}' in text
    assert 'label="6, 7. approved refused\\n[four_eyes]\\n[approval_signed]"' in text
    loop = [ln for ln in text.splitlines() if "awaiting_approval -> __refused0" in ln
            or "__refused0 -> awaiting_approval" in ln]  # fmt: skip
    assert len(loop) == 2
    assert all('style=dashed, color="#b3261e"' in ln for ln in loop)


def test_the_caption_says_which_run_which_definition_and_when() -> None:
    said = f"run {CAPTION.run_id} · definition {DEFINITION.definition_hash} · generated " \
           "2026-12-05 07:30:00 UTC"  # fmt: skip
    trace = TRACES["done"]
    svg = ET.fromstring(render(DiagramFormat.SVG, CANONICAL, "h", trace, CAPTION).decode())
    words = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert said in words
    assert f'label="{said}";' in dot(CANONICAL, trace, CAPTION)
    markdown = render(DiagramFormat.MD, CANONICAL, DEFINITION.definition_hash, trace, CAPTION)
    assert markdown.decode().startswith(said + "\n\n")
    without = render(DiagramFormat.PNG, CANONICAL, "h", trace)
    with_caption = render(DiagramFormat.PNG, CANONICAL, "h", trace, CAPTION)
    assert _png_height(with_caption) > _png_height(without)  # a line more, under the chart


def _png_height(png: bytes) -> int:
    return int.from_bytes(png[20:24], "big")  # the IHDR chunk: width, then height
