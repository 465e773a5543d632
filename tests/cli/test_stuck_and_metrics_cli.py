"""`tradefsm runs stuck` and `tradefsm worker --metrics-port` in real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests import days
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import make_engine_for
from tests.ports import free_port


def _held_run(cli: Cli, hours_ago: float) -> str:
    """A run whose driver stopped after creating it, ``hours_ago`` by the CLI's clock."""
    store = SqlRunStore(make_engine(cli.env["TRADEFSM_DB"]))
    clock = FixedClock(days.now() - timedelta(hours=hours_ago))
    engine = make_engine_for(store, PaperBroker(cli.folder / "held.db"), clock)
    run_id = engine.create(RunRequest(account_id="acct-held")).run_id
    store.engine.dispose()
    return run_id


def test_runs_stuck_lists_a_run_nobody_drives_with_the_command_that_resumes_it(
    ready: Cli,
) -> None:
    assert ready.json("runs", "stuck", "--json") == []
    assert "no stuck runs" in ready("runs", "stuck").stdout
    ready("run")  # done: not stuck
    run_id = _held_run(ready, hours_ago=2)
    [found] = ready.json("runs", "stuck", "--json")
    assert (found["run_id"], found["state"], found["why"]) == (run_id, "idle", "no live holder")
    assert found["resume"] == f"tradefsm resume {run_id} --actor NAME"
    assert found["idle_seconds"] >= 2 * 3600 - 60
    assert f"tradefsm resume {run_id} --actor NAME" in ready("runs", "stuck").stdout
    wrong = one_line_error(ready("runs", "stuck", "--older-than", "soon", code=2))
    assert "not a duration" in wrong


def _scrape(port: int, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # the worker is still starting: poll its port


def test_the_worker_serves_metrics_of_the_database_while_it_runs(ready: Cli) -> None:
    done = ready.json("run", "--json")
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "fsm", "worker", "--metrics-port", str(port), "--idle-exit", "120"],
        env=ready.env, cwd=ready.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        text = _scrape(port, time.monotonic() + 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples["tradefsm_runs", (("state", "done"), ("status", "done"))] == 1
    assert samples["tradefsm_transitions_total", (("event", "start"),)] == 1
    assert samples["workflow_duration_ms_count", ()] == 1
    assert done["state"] == "done"
