"""`tradefsm events`: every committed transition of every run, in commit order, with stable
ids, from any point, one run, or followed while a worker drives runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.cli.conftest import Cli, one_line_error


def _events(cli: Cli, *args: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = cli("events", "--json", *args, env_extra=env).stdout
    return [json.loads(line) for line in out.splitlines()]


def _of_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of ledger rows themselves, without the order events of execution's end."""
    return [e for e in events if not e["kind"].startswith("order.")]


def test_events_of_two_runs_in_commit_order(ready: Cli) -> None:
    first, second = ready.json("run", "--json"), ready.json("run", "--json")
    console = {"TRADEFSM_CONSOLE_URL": "https://tradefsm.example.com/"}
    events = _events(ready, env=console)
    runs = [first["run_id"]] * first["version"] + [second["run_id"]] * second["version"]
    rows = _of_rows(events)
    assert [e["run_id"] for e in rows] == runs
    assert [e["id"] for e in rows] == [f"{e['run_id']}:{e['seq']}" for e in rows]
    orders = [e for e in events if e not in rows]
    assert orders  # the demo plan trades: one order.filled per order
    assert {e["kind"] for e in orders} == {"order.filled"}
    assert all(e["id"].endswith(f":order:{e['order']['client_order_id']}") for e in orders)
    assert (events[0]["kind"], events[1]["kind"], events[-1]["kind"]) == (
        "run.created", "run.started", "run.done")  # fmt: skip
    assert events[-1]["link"] == f"https://tradefsm.example.com/runs/{second['run_id']}"
    assert _events(ready) == [e | {"link": None} for e in events]  # the same on every read
    lines = ready("events").stdout.splitlines()
    assert len(lines) == len(events)
    assert events[-1]["id"] in lines[-1]


def test_since_an_event_a_time_and_one_run(ready: Cli) -> None:
    first, second = ready.json("run", "--json"), ready.json("run", "--json")
    last_of_first = f"{first['run_id']}:{first['version']}"  # a run's version: its rows
    after = _events(ready, "--since", last_of_first)
    assert {e["run_id"] for e in after} == {second["run_id"]}
    assert len(_of_rows(after)) == second["version"]
    of_first = _events(ready, "--run", first["run_id"])
    assert _of_rows(of_first) == _of_rows(_events(ready))[: first["version"]]
    assert _events(ready, "--since", "2999-01-01T00:00Z") == []
    assert len(_events(ready, "--since", "2000-01-01")) == len(_events(ready))
    wrong = one_line_error(ready("events", "--since", "yesterday", code=2))
    assert "neither a time" in wrong
    assert "RUN_ID:SEQ" in wrong


def test_follow_prints_a_run_a_worker_drives_as_it_is_committed(ready: Cli) -> None:
    follow = subprocess.Popen(
        [sys.executable, "-m", "fsm", "events", "--follow", "--json", "--interval", "0.1",
         "--timeout", "90"],
        env=ready.env, cwd=ready.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        run_id = ready("submit").stdout.strip()
        ready("worker", "--max-runs", "1")
        assert follow.stdout is not None
        kinds = []
        for line in follow.stdout:  # ends at the latest with --timeout
            kinds.append(json.loads(line)["kind"])
            if kinds[-1] == "run.done":
                break
    finally:
        follow.terminate()
        follow.communicate(timeout=60)
    assert kinds[0] == "run.created"
    assert kinds[-1] == "run.done"
    assert "run.resumed" not in kinds  # a worker claiming a submitted run resumes nothing
    rows = ready.json("audit", "transitions", "--run", run_id, "--format", "json")
    assert len([k for k in kinds if not k.startswith("order.")]) == len(rows)
