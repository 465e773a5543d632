"""Every action names a person or a process, and four eyes holds across retries, as people
use the command: on SQLite and PostgreSQL where the run database matters."""

from __future__ import annotations

import getpass

import pytest

from fsm.actors import actor_name
from tests.cli.conftest import Cli, one_line_error


@pytest.fixture
def both(cli: Cli, db_url: str) -> Cli:
    """The command on each SQL backend (``db_url`` is SQLite, then PostgreSQL)."""
    cli.env["TRADEFSM_DB"] = db_url
    cli.upgrade()
    return cli


def _waiting(cli: Cli) -> str:
    [waiting] = cli.json("runs", "list", "--state", "awaiting_approval", "--format", "json")
    return str(waiting["run_id"])


def _actors(cli: Cli, run_id: str) -> list[tuple[str, str]]:
    shown = cli.json("runs", "show", run_id, "--format", "json")
    return [(row["event"], row["actor"]) for row in shown["ledger"]]


def test_a_retry_cannot_launder_four_eyes(both: Cli) -> None:
    both.env["TRADEFSM_APPROVAL_NOTIONAL"] = "1000"
    both("run", "--account", "e", "--actor", "ann", code=9)
    first = _waiting(both)
    both("reject", first, "--actor", "bob", "--reason", "nope")
    retried = both.json("retry", first, "--actor", "ann", "--json", code=9)
    assert retried["parent_run_id"] == first
    assert _actors(both, retried["run_id"])[0] == ("created", "ann")
    for approver in ("ann", "bob"):
        own = both("approve", retried["run_id"], "--actor", approver, "--reason", "mine", code=6)
        assert "four_eyes" in one_line_error(own)
    shown = both.json("runs", "show", retried["run_id"], "--format", "json")
    assert shown["run"]["state"] == "awaiting_approval"
    assert shown["orders"] == []
    refused = shown["ledger"][-1]
    assert (refused["event"], refused["accepted"], refused["actor"]) == ("approved", False, "bob")
    inputs = next(g for g in refused["guards"] if g["name"] == "four_eyes")["inputs"]
    assert (inputs["requesters"], inputs["rejecters"]) == ("ann", "bob")
    done = both.json("approve", retried["run_id"], "--actor", "carol", "--reason", "ok", "--json")
    assert done["state"] == "done"
    assert done["orders"]


def test_the_retry_of_a_rejected_plan_waits_without_the_approval_setting(both: Cli) -> None:
    both("run", "--account", "e", "--actor", "ann", code=9,
         env_extra={"TRADEFSM_APPROVAL_NOTIONAL": "1000"})  # fmt: skip
    first = _waiting(both)
    both("reject", first, "--actor", "bob", "--reason", "nope")
    retried = both.json("retry", first, "--actor", "ann", "--json", code=9)
    assert retried["state"] == "awaiting_approval"
    assert retried["orders"] == []


def test_a_zero_width_look_alike_of_the_requester_is_refused(cli: Cli) -> None:
    cli.upgrade()
    cli("run", "--actor", "trader-ann", code=9, env_extra={"TRADEFSM_APPROVAL_NOTIONAL": "1000"})
    run_id = _waiting(cli)
    for name in ("trader-ann\u200b", "tr\u0430der-ann"):  # zero-width space; Cyrillic "а"
        done = cli("approve", run_id, "--actor", name, "--reason", "mine", code=2)
        assert "not allowed" in one_line_error(done)
    fullwidth = cli("approve", run_id, "--actor", "ＴＲＡＤＥＲ-ＡＮＮ", "--reason", "x", code=6)
    assert "four_eyes" in one_line_error(fullwidth)
    assert [event for event, _ in _actors(cli, run_id)][-1] == "approved"  # one refusal row
    assert cli.json("runs", "show", run_id, "--format", "json")["run"]["state"] == (
        "awaiting_approval"
    )


@pytest.mark.parametrize(
    ("command", "bad"),
    [(["run"], "ops\u200b"), (["submit"], "ops\x07"), (["retry", "run_x"], "o" * 129),
     (["resume", "run_x"], "\u043eps"), (["cancel", "run_x", "--reason", "r"], "ops\u200b"),
     (["approve", "run_x", "--reason", "r"], "ops\u2066"),
     (["reject", "run_x", "--reason", "r"], "ops\u200d")],
)  # fmt: skip
def test_every_command_refuses_a_bad_name_in_one_line(
    ready: Cli, command: list[str], bad: str
) -> None:
    done = ready(*command, "--actor", bad, code=2)
    assert "actor name" in one_line_error(done)
    assert done.stdout == ""
    env_bad = ready(*command, code=2, env_extra={"TRADEFSM_ACTOR": bad})
    assert "TRADEFSM_ACTOR" in one_line_error(env_bad)
    assert ready.json("runs", "list", "--format", "json") == []


def test_the_longest_name_fits_both_backends(both: Cli) -> None:
    longest = "a" * 128
    run = both.json("run", "--actor", longest, "--json")
    assert {row["actor"] for row in run["transitions"]} == {longest}
    assert "129 characters" in one_line_error(both("run", "--actor", "a" * 129, code=2))


def test_the_default_actor_is_the_os_user_or_tradefsm_actor(ready: Cli) -> None:
    quiet = ready.json("run", "--json")
    assert {row["actor"] for row in quiet["transitions"]} == {actor_name(getpass.getuser())}
    assert "engine" not in {row["actor"] for row in quiet["transitions"]}
    named = ready.json("run", "--json", env_extra={"TRADEFSM_ACTOR": "ｄｅｓｋ-1"})
    assert {row["actor"] for row in named["transitions"]} == {"desk-1"}  # stored in NFKC


def test_a_queued_run_names_its_submitter_and_the_worker(ready: Cli) -> None:
    run_id = ready("submit", "--actor", "trader-ann").stdout.strip()
    ready("worker", "--max-runs", "1", "--idle-exit", "5")
    actors = _actors(ready, run_id)
    assert actors[0] == ("created", "trader-ann")
    movers = {actor for _, actor in actors[1:]}
    assert len(movers) == 1
    assert next(iter(movers)).startswith("worker:")


def test_resume_and_cancel_name_who_did_them(ready: Cli) -> None:
    ready("run", "--actor", "ann", code=-9,
          env_extra={"TRADEFSM_FAILPOINTS": "transition.signals_generated"})  # fmt: skip
    [crashed] = ready.json("runs", "list", "--format", "json")
    ready("resume", crashed["run_id"], "--actor", "ops-kim")
    actors = _actors(ready, crashed["run_id"])
    assert actors[:3] == [("created", "ann"), ("start", "ann"), ("signals_generated", "ann")]
    assert {actor for _, actor in actors[3:]} == {"ops-kim"}
    ready("run", "--account", "c2", "--actor", "ann", code=9,
          env_extra={"TRADEFSM_APPROVAL_NOTIONAL": "1000"})  # fmt: skip
    parked = _waiting(ready)
    done = ready("cancel", parked, "--reason", "stop", env_extra={"TRADEFSM_ACTOR": "ops-lee"})
    assert "cancelled by ops-lee" in done.stdout
    assert _actors(ready, parked)[-1] == ("cancel", "ops-lee")
