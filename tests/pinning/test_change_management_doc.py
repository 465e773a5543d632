"""docs/change-management.md and the exit codes: every command the page names exists with the
options it shows, every exit code the CLI maps an error to is in cli.md's table."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from fsm.cli import EXIT_CODES, app
from fsm.docs import DOCS

PAGE = (DOCS / "change-management.md").read_text(encoding="utf-8")


def test_every_exit_code_the_cli_maps_is_documented() -> None:
    table = (DOCS / "cli.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE))
    assert {str(code) for _, code in EXIT_CODES} <= documented


def test_the_page_is_linked_from_the_index() -> None:
    assert "(change-management.md)" in (DOCS / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "line", sorted(set(re.findall(r"`(tradefsm [a-z][^`]*)`", PAGE))), ids=lambda line: line
)
def test_every_command_the_page_names_takes_the_options_it_shows(line: str) -> None:
    words = line.split()[1:]
    command, path = typer.main.get_command(app), []
    for word in words:
        found = getattr(command, "commands", {}).get(word)
        if found is None:
            break
        command, path = found, [*path, word]
    assert path, line
    given = {o for o in words if o.startswith("--")}
    known = {o for p in command.params for o in p.opts}
    assert given <= known, (line, given - known)
    assert CliRunner().invoke(app, [*path, "--help"]).exit_code == 0
