"""Generated documentation pages: ``python -m fsm.docs`` rewrites them, tests check drift."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic.fields import FieldInfo

from fsm import diagram
from fsm.definition import MachineDefinition, trading_definition
from fsm.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


SVG = "state-diagram.svg"  # the drawing on docs/state-diagram.md, redrawn when the chart moves
_DRAWN = re.compile(r"definition ([0-9a-f]{64}) ·")


def state_diagram_markdown() -> str:
    definition = trading_definition()
    return (
        "# State diagram\n\n"
        "Generated from `fsm/machines/trading.py` by `python -m fsm.docs` (`make diagram`); a\n"
        "test fails when this page or its drawing and the class differ. Each edge is named by\n"
        "its event; `fail` and `cancel`, which every unfinished state has alike, are one note\n"
        "beside Failed; the table below gives every transition's guards. `tradefsm diagram`\n"
        "draws them on the edges, and with `--run RUN_ID` the definition a run ran under, with\n"
        "its path; `--format mermaid` prints the chart as Mermaid text.\n\n"
        f"Definition hash: `{definition.definition_hash}`\n\n"
        f"[![The trading chart: its states, and each transition's event and guards]({SVG})]"
        f"({SVG})\n\n" + diagram.table(definition.canonical())
    )


def state_diagram_svg(definition: MachineDefinition, now: datetime) -> bytes:
    """The chart drawn by Graphviz as `tradefsm diagram --format svg` draws it, fitted to a
    page's narrow column: top to bottom, each edge named by its event alone (the page's table
    lists the guards), its caption naming the definition hash."""
    canonical = definition.canonical()
    events = [t | {"guards": []} for t in canonical["transitions"]]
    caption = diagram.Caption(definition.definition_hash, now)
    return diagram.graphviz(diagram.dot(canonical | {"transitions": events}, caption=caption,
                                        direction="TB"), "svg")  # fmt: skip


def drawn_hash(svg: str) -> str | None:
    """The definition hash a drawing's caption names (None: no caption)."""
    found = _DRAWN.search(svg)
    return None if found is None else found.group(1)


def configuration_markdown() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "unset" if default is None else f"`{default}`" if default != () else "empty"
        if field.default_factory is not None:
            shown = "computed (see meaning)"
        row = f"| `TRADEFSM_{name.upper()}` | {shown} | {_bounds(field)} | {field.description} |"
        rows.append(row)
    return (
        "# Configuration\n\n"
        "Generated from `fsm/settings.py` by `python -m fsm.docs`. Every setting is an\n"
        "environment variable; invalid values stop the command with a one-line message naming\n"
        "the variable. Lists (`TRADEFSM_ALLOWED_SYMBOLS`) are comma-separated. Numbers outside\n"
        "their bounds (infinity and NaN included) are refused the same way.\n\n"
        "Settings named like a key of the risk policy (`TRADEFSM_MAX_ORDERS`, ...) may only\n"
        "tighten the policy in force for the process that reads them: a looser value is ignored\n"
        "(refused in live mode); the policy itself is changed with `tradefsm policy`\n"
        "([controls.md](controls.md)).\n\n"
        "| variable | default | bounds | meaning |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )


def policy_markdown() -> str:
    """The table of the risk policy's keys in docs/controls.md (a test holds it to the code)."""
    from fsm.policy import DEFAULT, KEYS, RiskPolicy  # noqa: PLC0415  # only for this page

    rows = ["| key | meaning | default | loosened by |", "| --- | --- | --- | --- |"]
    for key, direction in KEYS.items():
        shown = _policy_value(getattr(DEFAULT, key))
        meaning = RiskPolicy.model_fields[key].description
        rows.append(f"| `{key}` | {meaning} | {shown} | {direction.value} |")
    return "\n".join(rows) + "\n"


def _policy_value(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(value) or "empty"
    return str(value).lower() if isinstance(value, bool) else str(value)


BOUND_SIGNS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))


def _bounds(field: FieldInfo) -> str:
    """The numeric bounds pydantic enforces on a setting, as ``> 0, ≤ 86400``."""
    found = [
        f"{sign} {getattr(rule, name):g}"
        for rule in field.metadata
        for name, sign in BOUND_SIGNS
        if isinstance(getattr(rule, name, None), int | float)
    ]
    return ", ".join(found)


def cli_reference_markdown() -> str:
    # The composition root, imported here only to document its commands.
    from fsm.cli import app  # noqa: PLC0415  # importing it at module level would be a cycle

    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands themselves by `python -m fsm.docs`. Exit codes and the",
        "JSON contract are in [cli.md](cli.md).",
    ]
    for path, command in _commands(root, ["tradefsm"]):
        lines += ["", f"## `{' '.join(path)}`", "", (command.help or "").strip(), ""]
        lines += [f"- {_describe(p)}" for p in command.params if p.param_type_name == "option"]
        arguments = [p.name for p in command.params if p.param_type_name == "argument"]
        if arguments:
            lines.append(f"- arguments: {', '.join(str(a).upper() for a in arguments)}")
    return "\n".join(lines) + "\n"


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    if hasattr(command, "commands"):  # a group of commands
        if command.invoke_without_command:  # a command itself too (`tradefsm definitions`)
            yield path, command
        for name in sorted(command.commands):
            yield from _commands(command.commands[name], [*path, name])
    else:
        yield path, command


def _describe(option: Any) -> str:
    names = " / ".join(f"`{o}`" for o in [*option.opts, *option.secondary_opts])
    return f"{names}{' (flag)' if option.is_flag else ''}: {option.help or ''}".rstrip(": ")


PAGES = {
    "state-diagram.md": state_diagram_markdown,
    "configuration.md": configuration_markdown,
    "cli-reference.md": cli_reference_markdown,
}


def main() -> None:
    """Rewrite the pages, and redraw the chart when its drawing names another definition (a
    redrawing changes its caption's time only: left alone otherwise)."""
    for name, render in PAGES.items():
        (DOCS / name).write_text(render(), encoding="utf-8")
    definition, drawing = trading_definition(), DOCS / SVG
    if not drawing.exists() or drawn_hash(drawing.read_text("utf-8")) != definition.definition_hash:
        drawing.write_bytes(state_diagram_svg(definition, datetime.now(UTC)))


if __name__ == "__main__":
    main()
