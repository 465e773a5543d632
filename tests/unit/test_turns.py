"""Whether a new run refused because its account has an active run may be tried again: the
legacy facade waits its turn only for a run that a live process drives or that has just ended."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import RunAlreadyActive, RunLeased
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.leases import worth_waiting
from fsm.requests import RunRequest
from tests.conftest import TRADING_DAY, make_engine_for

FINAL = ("done", "failed")


def _refused(run_id: str) -> RunAlreadyActive:
    return RunAlreadyActive(f"account 'paper' already has an active run {run_id}", run_id=run_id)


def test_a_run_that_ended_since_the_refusal_is_worth_another_try(tmp_path: Path) -> None:
    store = MemoryRunStore()
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY),
                             ids=SequentialIdFactory("a-"))  # fmt: skip
    ended = engine.run(RunRequest(account_id="paper", mode=Mode.DRY_RUN))
    assert ended.state == "done"
    assert worth_waiting(store, _refused(ended.run_id), TRADING_DAY, FINAL)


def test_only_a_run_a_live_process_drives_is_worth_waiting_for(tmp_path: Path) -> None:
    store = MemoryRunStore()
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY),
                             ids=SequentialIdFactory("b-"))  # fmt: skip
    held = engine.create(RunRequest(account_id="paper"))  # under this process's live lease
    assert worth_waiting(store, _refused(held.run_id), TRADING_DAY, FINAL)
    expired = held.lease_expires_at + timedelta(seconds=1)
    assert not worth_waiting(store, _refused(held.run_id), expired, FINAL)  # nobody drives it
    assert not worth_waiting(store, RunLeased("leased", run_id=held.run_id), TRADING_DAY, FINAL)
