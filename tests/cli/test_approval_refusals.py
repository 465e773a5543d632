"""Approve or reject a run that does not wait for approval: exit 7 with one line saying what
the run is doing (executing, queued, ended), and nothing changes."""

from __future__ import annotations

import signal

import pytest

from tests.cli.conftest import Cli, one_line_error

DECIDE = ("--actor", "risk-bob", "--reason", "checked")


def _only_run(cli: Cli) -> dict[str, str]:
    [run] = cli.json("runs", "list", "--format", "json")
    return dict(run)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_run_still_executing_is_said_to_be_executing(ready: Cli, decision: str) -> None:
    ready(
        "run", code=-signal.SIGKILL, env_extra={"TRADEFSM_FAILPOINTS": "transition.plan_approved"}
    )
    run = _only_run(ready)
    assert run["state"] == "executing"
    line = one_line_error(ready(decision, run["run_id"], *DECIDE, code=7))
    assert f"run {run['run_id']} is executing, not waiting for approval" in line
    assert _only_run(ready)["version"] == run["version"]


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_ended_run_is_said_to_have_ended(ready: Cli, decision: str) -> None:
    ready("run", "--mode", "dry-run")
    run = _only_run(ready)
    line = one_line_error(ready(decision, run["run_id"], *DECIDE, code=7))
    assert f"run {run['run_id']} already ended done, not waiting for approval" in line
    assert "approved" not in line


def test_a_queued_run_is_said_to_be_queued(ready: Cli) -> None:
    run_id = ready("submit").stdout.strip()
    line = one_line_error(ready("approve", run_id, *DECIDE, code=7))
    assert "is queued (no worker has started it), not waiting for approval" in line
    assert _only_run(ready)["status"] == "queued"
