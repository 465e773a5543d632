"""Generated documentation pages: ``python -m fsm.docs`` rewrites them, tests check drift."""

from __future__ import annotations

from pathlib import Path

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
        rows.append(f"| `TRADEFSM_{name.upper()}` | {shown} | {field.description} |")
    return (
        "# Configuration\n\n"
        "Generated from `fsm/settings.py` by `python -m fsm.docs`. Every setting is an\n"
        "environment variable; invalid values stop the command with a one-line message naming\n"
        "the variable. Lists (`TRADEFSM_ALLOWED_SYMBOLS`) are comma-separated.\n\n"
        "| variable | default | meaning |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )


PAGES = {"state-diagram.md": state_diagram_markdown, "configuration.md": configuration_markdown}


def main() -> None:
    for name, render in PAGES.items():
        (DOCS / name).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
