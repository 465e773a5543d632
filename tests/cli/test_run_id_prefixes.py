"""Run ids as people type them: an empty or too short prefix (an unset shell variable, a
slip) is refused the same way by every command that takes a run id; four characters do."""

from __future__ import annotations

import re

import pytest

from fsm.errors import AmbiguousRunId
from fsm.runids import MIN_PREFIX, resolve_run_id
from tests.cli.conftest import Cli, one_line_error

DECIDE = ("--actor", "ops-b", "--reason", "checked")
TAKING_A_RUN_ID = [
    ("cancel", "{}", *DECIDE),
    ("approve", "{}", *DECIDE),
    ("reject", "{}", *DECIDE),
    ("resume", "{}"),
    ("retry", "{}"),
    ("runs", "show", "{}"),
    ("runs", "watch", "{}", "--timeout", "1"),
    ("audit", "export", "--run", "{}"),
    ("audit", "transitions", "--run", "{}"),
    ("audit", "rejected", "--run", "{}"),
    ("audit", "verify", "--run", "{}"),
    ("diagram", "--run", "{}"),
]


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    cli = Cli(tmp_path_factory.mktemp("prefixes"))
    cli.upgrade()
    run_id: str = cli.json("run", "--mode", "dry-run", "--json")["run_id"]
    return cli, run_id


def _with(command: tuple[str, ...], run_id: str) -> list[str]:
    return [run_id if arg == "{}" else arg for arg in command]


@pytest.mark.parametrize("command", TAKING_A_RUN_ID, ids=lambda c: " ".join(c[:2]))
def test_an_empty_run_id_is_refused_by_every_command(
    one_run: tuple[Cli, str], command: tuple[str, ...]
) -> None:
    cli, _ = one_run
    line = one_line_error(cli(*_with(command, ""), code=2))
    assert f"at least {MIN_PREFIX} characters" in line
    assert cli.json("runs", "list", "--format", "json")[0]["state"] == "done"  # untouched


@pytest.mark.parametrize("text", ["r", "run_", "run", "zz", "run_zzz", "1"])
@pytest.mark.parametrize(
    "command", [TAKING_A_RUN_ID[0], TAKING_A_RUN_ID[5]], ids=["cancel", "show"]
)
def test_a_too_short_prefix_is_refused_saying_the_minimum(
    one_run: tuple[Cli, str], command: tuple[str, ...], text: str
) -> None:
    cli, _ = one_run
    line = one_line_error(cli(*_with(command, text), code=2))
    assert f"at least {MIN_PREFIX} characters" in line


def test_four_characters_after_run_are_enough_with_or_without_it(
    one_run: tuple[Cli, str],
) -> None:
    cli, run_id = one_run
    short = run_id[4 : 4 + MIN_PREFIX]
    for text in (short, "run_" + short):
        assert cli.json("runs", "show", text, "--format", "json")["run"]["run_id"] == run_id
    assert "no run" in one_line_error(cli("runs", "show", "zzzz", code=4))


def test_a_prefix_of_several_runs_is_refused_listing_them() -> None:
    ids = ["run_abcd0001", "run_abcd0002", "run_ab"]
    lookup = lambda prefix, limit: [i for i in ids if i.startswith(prefix)][:limit]  # noqa: E731
    with pytest.raises(AmbiguousRunId, match="run_abcd0001, run_abcd0002; type more"):
        resolve_run_id(lookup, "abcd")
    assert resolve_run_id(lookup, "ab") == "run_ab"  # a whole id, however short


def test_a_run_s_diagram_draws_the_state_it_is_in_bold(one_run: tuple[Cli, str]) -> None:
    cli, run_id = one_run
    svg = cli("diagram", "--run", run_id[:10], "--format", "svg").stdout
    assert re.findall(r'font-weight="bold"[^>]*>([^<]*)<', svg) == ["Done"]
    assert f"run {run_id} · definition " in svg  # the caption names the run
    assert 'font-weight="bold"' not in cli("diagram", "--format", "svg").stdout
