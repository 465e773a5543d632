"""Facades constructed and called from several threads (and processes) at once all work.

The legacy constructor never raised: the first facade of a process migrates the run database,
and a thread constructing its facade meanwhile waits for that instead of failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fsm.ports import RunFilter
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.compat.test_facade import SIGNALS, Services

THREADS = 4


def _together(work: Any) -> list[Any]:
    """``work()`` in THREADS threads released at once; what each returned or raised."""
    start = threading.Barrier(THREADS, timeout=60)
    outcomes: list[Any] = [None] * THREADS

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = work()
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    return outcomes


@pytest.mark.parametrize("database", ["new", "migrated"])
def test_threads_construct_facades_together_and_each_call_is_a_run(
    database: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEFSM_DB", db_url)
    if database == "migrated":
        migrate.upgrade(make_engine(db_url))

    def construct_then_trade() -> Any:
        orchestrator = Services().orchestrator()
        return orchestrator.execute_strategy_signals_with_trading()

    outcomes = _together(construct_then_trade)
    assert [o if isinstance(o, BaseException) else o["success"] for o in outcomes] == [
        True
    ] * THREADS
    runs = SqlRunStore(make_engine(db_url)).list_runs(RunFilter(account_id="legacy"))
    assert [r.state for r in runs] == ["done"] * THREADS


def test_a_call_waits_for_the_call_another_thread_is_in() -> None:
    inside, release = threading.Event(), threading.Event()
    first = Services()

    def held() -> dict[str, Any]:
        inside.set()
        assert release.wait(60)
        return SIGNALS

    first.signals.analyze_signals.side_effect = held
    facades = [first.orchestrator(), Services().orchestrator()]  # one (default) store
    answers: dict[int, Any] = {}

    def call(i: int) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: answers.setdefault(i, facades[i].execute_strategy_signals())
        )
        thread.start()
        return thread

    running = call(0)
    assert inside.wait(60)
    waiting = call(1)
    waiting.join(1.0)  # time to reach the account's active run (without turns: None at once)
    assert waiting.is_alive()
    release.set()
    for thread in (running, waiting):
        thread.join(60)
    assert [answers[i]["success"] for i in (0, 1)] == [True, True]
    assert [r.state for r in facades[1].runs()] == ["done", "done"]


CONSTRUCT = """
import sys
from unittest.mock import Mock
from fsm.compat import TradingOrchestrator

print("ready", flush=True)
sys.stdin.readline()  # both processes start constructing on the same line from the test
TradingOrchestrator(signal_orchestrator=Mock(), portfolio_orchestrator=Mock(),
                    execution_orchestrator=Mock())
print("constructed", flush=True)
"""


def test_two_processes_migrating_one_new_database_both_construct(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEFSM_DB", db_url)
    processes = [
        subprocess.Popen([sys.executable, "-c", CONSTRUCT], env=dict(os.environ), cwd=tmp_path,
                         text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
        for _ in range(2)
    ]  # fmt: skip
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        answers = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in answers]
    assert [out for out, _ in answers] == ["constructed\n", "constructed\n"]
    assert migrate.current_revisions(make_engine(db_url)) == (migrate.HEAD_REVISION,)
    assert Services().orchestrator().execute_strategy_signals() is not None


TRADE = """
import logging, sys
from tests.compat.test_facade import SIGNALS, Services

class Said(logging.Handler):
    def emit(self, record):
        print("waiting for", record.what, flush=True)

logging.getLogger("tradefsm.retry").addHandler(Said())
logging.getLogger("tradefsm.retry").setLevel(logging.INFO)
services = Services()
if sys.argv[1] == "holds":
    def held(*args, **kwargs):
        print("inside", flush=True)
        sys.stdin.readline()  # until the test lets this call go on
        return SIGNALS
    services.signals.analyze_signals.side_effect = held
answer = services.orchestrator().execute_strategy_signals_with_trading()
print("success" if answer and answer["success"] else f"answer {answer}", flush=True)
"""


def test_a_call_waits_for_the_call_another_process_is_in(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEFSM_DB", db_url)
    migrate.upgrade(make_engine(db_url))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", TRADE, role], env=env, cwd=tmp_path,
                                text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip

    holder = start("holds")
    waiter: subprocess.Popen[str] | None = None
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "inside\n"
        waiter = start("waits")
        assert waiter.stdout is not None
        said = waiter.stdout.readline()
        assert said == "waiting for a turn on the legacy account\n", (
            said,
            waiter.communicate(timeout=60),
        )
        holder.communicate("go\n", timeout=120)
        out, err = waiter.communicate(timeout=120)
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                process.kill()
    assert (holder.returncode, waiter.returncode) == (0, 0), err
    assert out.splitlines()[-1] == "success", err
    runs = SqlRunStore(make_engine(db_url)).list_runs(RunFilter(account_id="legacy"))
    assert [r.state for r in runs] == ["done", "done"]
