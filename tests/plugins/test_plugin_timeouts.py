"""A strategy, market data or broker plugin that never returns: the step timeout ends the run
failed, ledgered, with an error naming the plugin and the timeout, from the command line (the
process alarm) as from the library (a helper thread)."""

from __future__ import annotations

import importlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.pluginports import plugged_ports
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.plugins.conftest import Cli

SHORT = {  # a short step timeout, two tries, no wait between them
    "TRADEFSM_STEP_TIMEOUT_SECONDS": "1",
    "TRADEFSM_RETRY_ATTEMPTS": "2",
    "TRADEFSM_RETRY_BASE_SECONDS": "0",
    "TRADEFSM_RETRY_MAX_SECONDS": "0",
}


@pytest.fixture
def released(test_plugins: Path) -> Iterator[None]:
    """After the test, the plugin threads a library run left waiting are let go."""
    yield
    module = importlib.import_module("broken_plugins")
    module.RELEASE.set()
    module.RELEASE.clear()


def test_a_hanging_strategy_fails_the_run_naming_it_and_the_timeout(
    ready: Cli, test_plugins: Path
) -> None:
    ready.env["PYTHONPATH"] = os.pathsep.join([str(test_plugins), ready.env.get("PYTHONPATH", "")])
    started = ready.json(
        "run", "--strategy", "hangs", "--mode", "signals-only", "--json", code=1, env_extra=SHORT
    )
    said = (
        "strategy plugin 'hangs' (broken-plugins 0.3) did not return within 1 s, "
        "the timeout of step generating_signals"
    )
    shown = ready.json("runs", "show", started["run_id"], "--format", "json")
    run = shown["run"]
    assert run["state"] == "failed"
    assert run["failure"]["error_type"] == "StepTimeout"
    assert said in run["failure"]["message"]
    last = shown["ledger"][-1]
    assert (last["source"], last["target"], last["error_type"]) == (
        "generating_signals",
        "failed",
        "StepTimeout",
    )
    assert said in last["error_message"]
    tries = [a for a in shown["attempts"] if a["state"] == "generating_signals"]
    assert [(a["attempt"], a["error_type"]) for a in tries] == [
        (1, "StepTimeout"),
        (2, "StepTimeout"),
    ]
    assert all(said in a["error_message"] for a in tries)  # each try timed out, retried once
    shown_to_people = ready("runs", "show", started["run_id"]).stdout
    assert "failed tries (UTC)" in shown_to_people
    assert shown_to_people.count("StepTimeout: strategy plugin 'hangs'") >= 2  # the two tries


@pytest.mark.parametrize(
    ("plugin", "said"),
    [
        ({"market_data": "feed-hangs"}, "market data plugin 'feed-hangs'"),
        ({"broker": "broker-hangs"}, "broker plugin 'broker-hangs'"),
    ],
)
def test_a_hanging_plugin_fails_a_library_run_naming_it(
    tmp_path: Path, released: None, plugin: dict[str, str], said: str
) -> None:
    engine_sql = make_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(engine_sql)
    store = SqlRunStore(engine_sql)
    settings = Settings(
        actor="quant-qi", paper_db=tmp_path / "paper.db", strategy="sixty-forty",
        step_timeout_seconds=0.5, retry_attempts=1, **plugin,
    )  # fmt: skip
    ports = plugged_ports(settings, TRADING_DAY.date())
    engine = Engine(store, ports, settings, FixedClock(TRADING_DAY), SequentialIdFactory())
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "failed"
    assert run.failure is not None
    assert run.failure["error_type"] == "StepTimeout"
    assert (
        f"{said} (broken-plugins 0.3) did not return within 0.5 s, the timeout of step analyzing"
    ) in run.failure["message"]
    assert store.ledger(run.run_id)[-1].target == "failed"


def _wait_for_state(database: Path, state: str) -> str:
    """The id of the run once it is in ``state``, read from the run database."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if database.exists():
            with closing(sqlite3.connect(database)) as conn:
                found = conn.execute("SELECT run_id FROM runs WHERE state = ?", (state,)).fetchone()
            if found:
                return str(found[0])
        time.sleep(0.02)
    raise AssertionError(f"no run reached {state}")


def test_ctrl_c_while_a_strategy_hangs_stands_down_at_the_try_s_end_instead_of_retrying(
    ready: Cli, test_plugins: Path
) -> None:
    env = ready.env | SHORT | {"TRADEFSM_STEP_TIMEOUT_SECONDS": "3", "TRADEFSM_RETRY_ATTEMPTS": "5"}
    env["PYTHONPATH"] = os.pathsep.join([str(test_plugins), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "fsm", "run", "--strategy", "hangs", "--mode", "signals-only"]
    running = subprocess.Popen(command, cwd=ready.folder, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    run_id = _wait_for_state(ready.folder / "runs.db", "generating_signals")
    running.send_signal(signal.SIGINT)
    _, err = running.communicate(timeout=120)
    assert running.returncode == 130, err  # not 1 after five tries: failed
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert f"stopped by SIGINT while generating_signals; run {run_id} is resumable" in line
    shown = ready.json("runs", "show", run_id, "--format", "json")
    assert (shown["run"]["state"], shown["run"]["status"]) == ("generating_signals", "active")
    tries = [(a["attempt"], a["error_type"]) for a in shown["attempts"]
             if a["state"] == "generating_signals"]  # fmt: skip
    assert tries in ([], [(1, "StepTimeout")])  # the try under way ended; no other began
