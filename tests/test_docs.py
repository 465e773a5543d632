"""Generated pages match the code; the README keeps its two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsm.docs import DOCS, PAGES


@pytest.mark.parametrize("name", sorted(PAGES))
def test_generated_page_is_current(name: str) -> None:
    assert (DOCS / name).read_text(encoding="utf-8") == PAGES[name](), (
        f"docs/{name} is out of date: run `python -m fsm.docs`"
    )


def test_readme_starts_with_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
    for link in ("docs/cli.md", "docs/architecture.md", "docs/state-diagram.md"):
        assert (DOCS.parent / link).exists()


def test_every_command_in_the_cli_reference_exists() -> None:
    from typer.testing import CliRunner

    from fsm.cli import app

    text = Path(DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ("db upgrade", "db current", "db check", "runs list", "runs show",
                    "paper orders", "paper positions", "paper reset"):  # fmt: skip
        assert f"tradefsm {command}" in text
        result = CliRunner().invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, result.output


def test_cli_md_names_exactly_the_run_options_submit_takes() -> None:
    """The submit row lists the request options it shares with `run`, and names the ones of
    `run` it lacks (saying why): no other option."""
    import typer

    from fsm.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]

    def options(name: str) -> set[str]:
        return {o for p in commands[name].params for o in p.opts if o.startswith("--")}

    text = Path(DOCS / "cli.md").read_text(encoding="utf-8")
    [row] = [line for line in text.splitlines() if line.startswith("| `tradefsm submit` |")]
    named = set(re.findall(r"--[a-z][a-z-]*", row))
    shared = options("submit") & options("run") - {"--db", "--json", "--help"}
    assert named == shared | (options("run") - options("submit") - {"--json"}), row
