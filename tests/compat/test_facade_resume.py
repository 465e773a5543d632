"""A facade run that stopped half-way is resumed from the facade, with the same services."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsm.clock import SystemClock
from fsm.compat.orchestrator import ACCOUNT
from fsm.compat.steps import LEGACY_GUARDS, LegacyCall
from fsm.driver import RunDriver
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.compat.test_facade import Services
from tests.conftest import broken_links


def _interrupted(store: SqlRunStore, services: Services, state: str) -> str:
    """A facade run abandoned in ``state``, as a killed process leaves it."""
    call = LegacyCall(services.signals, services.portfolio, services.execution)
    dies_soon = Settings(lease_seconds=0.001)  # its lease lapses at once, as a dead owner's
    engine = Engine(store, None, dies_soon, SystemClock(),
                    SequentialIdFactory("x"), specs=call.specs(), guards=LEGACY_GUARDS)  # fmt: skip
    driver = RunDriver(engine.runtime, engine.create(RunRequest(ACCOUNT, Mode.PAPER)))
    while driver.run.state != state:
        driver.step()
    time.sleep(0.01)
    return driver.run.run_id


def _site(tmp_path: Path) -> tuple[str, SqlRunStore, Services]:
    """A migrated run database, its store, and legacy services."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    migrate.upgrade(make_engine(url))
    return url, SqlRunStore(make_engine(url)), Services()


def test_the_facade_resumes_its_run_and_the_cli_points_there(tmp_path: Path) -> None:
    url, store, services = _site(tmp_path)
    run_id = _interrupted(store, services, "planning")
    env = {**os.environ, "TRADEFSM_DB": url}
    cli = subprocess.run([sys.executable, "-m", "fsm", "resume", run_id], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert cli.returncode == 7
    assert "TradingOrchestrator.resume" in cli.stderr
    assert "Traceback" not in cli.stderr
    # a call meanwhile does not wait for the run nobody drives: it answers None at once
    assert services.orchestrator(store=store).execute_strategy_signals() is None
    resumed = services.orchestrator(store=store).resume(run_id)
    assert resumed.state == "done"
    services.execution.execute_rebalance_plan.assert_called_once()
    assert not broken_links(store.ledger(run_id))


def test_a_facade_run_stopped_while_executing_is_not_sent_again(tmp_path: Path) -> None:
    _, store, services = _site(tmp_path)
    run_id = _interrupted(store, services, "executing")
    resumed = services.orchestrator(store=store).resume(run_id)
    assert (resumed.state, resumed.failure["error_type"]) == ("failed", "RunNotResumable")
    assert "check the broker by hand" in resumed.failure["message"]
    services.execution.execute_rebalance_plan.assert_not_called()


def test_an_interrupted_resume_fails_its_run_and_the_next_call_works(tmp_path: Path) -> None:
    _, store, services = _site(tmp_path)
    run_id = _interrupted(store, services, "planning")
    services.portfolio.create_rebalance_plan.side_effect = KeyboardInterrupt
    orchestrator = services.orchestrator(store=store)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.resume(run_id)
    run = store.get_run(run_id)
    assert (run.state, run.failure["error_type"]) == ("failed", "LegacyCallInterrupted")
    assert "interrupted in planning by KeyboardInterrupt" in run.failure["message"]
    services.portfolio.create_rebalance_plan.side_effect = None
    answer = orchestrator.execute_strategy_signals_with_trading()
    assert answer is not None
    assert answer["success"]
    assert not broken_links(store.ledger(run_id))
