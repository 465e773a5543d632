"""Generated documentation pages: ``python -m fsm.docs`` rewrites them, tests check drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic.fields import FieldInfo

from fsm import diagram
from fsm.definition import trading_definition
from fsm.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def state_diagram_markdown() -> str:
    definition = trading_definition()
    return (
        "# State diagram\n\n"
        "Generated from `fsm/machines/trading.py` by `python -m fsm.docs`; a test fails when\n"
        "this page and the class differ. Guard names are shown in brackets on the edges.\n"
        "`tradefsm diagram --run RUN_ID` draws the definition a run ran under, with its path.\n\n"
        + diagram.markdown(definition.canonical(), definition.definition_hash)
    )


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
    for name, render in PAGES.items():
        (DOCS / name).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
