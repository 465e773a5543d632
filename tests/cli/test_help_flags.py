"""`--help` shows a flag as a flag: no type after `--json`, `--all`, `-v` or `--help`, as if
it took a value; options that take one still say what."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from fsm.cli import app
from fsm.docs import _commands


def _help(*path: str) -> str:
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "160"})
    assert done.exit_code == 0, done.output
    return done.output


def test_no_command_shows_a_type_after_a_flag() -> None:
    root = typer.main.get_command(app)
    for path, command in [([], root), *_commands(root, [])]:
        shown = _help(*path)
        flags = [o for p in command.params if getattr(p, "is_flag", False) for o in p.opts]
        for flag in [*flags, "--help"]:
            row = re.compile(rf"^\W*{re.escape(flag)}(?![\w-])")  # the flag's own row
            [line] = [ln for ln in shown.splitlines() if row.search(ln)]
            assert "<bool>" not in line, (path, line)
        assert "<bool>" not in shown
    assert "<int>" not in next(ln for ln in _help().splitlines() if "--verbose" in ln)


def test_options_that_take_a_value_still_say_its_type() -> None:
    shown = _help("run")
    assert re.search(r"--idempotency-key\s+<str>", shown)
    assert re.search(r"--mode\s+<paper\|live\|dry-run\|signals-only>", shown)
