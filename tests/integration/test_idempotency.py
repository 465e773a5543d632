"""Idempotency keys as payment APIs treat them: the same request returns its run; another
request with the key is a conflict naming what differs; a run still going is said to be so."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.driver import RunDriver
from fsm.errors import IdempotencyConflict, RunAlreadyActive
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import TRADING_DAY, make_engine_for


def test_a_key_reused_for_another_run_is_a_conflict_naming_the_fields(
    migrated_url: str, tmp_path: Path
) -> None:
    store = SqlRunStore(make_engine(migrated_url))
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY))
    first = engine.run(RunRequest(account_id="alpha", idempotency_key="open-1127"))
    assert engine.run(RunRequest(account_id="alpha", idempotency_key="open-1127")) == first
    other = RunRequest(account_id="beta", mode=Mode.DRY_RUN, as_of=date(2026, 11, 26),
                       idempotency_key="open-1127")  # fmt: skip
    with pytest.raises(IdempotencyConflict, match="account_id, mode, as_of") as raised:
        engine.run(other)
    assert raised.value.run_id == first.run_id
    assert len(store.list_runs(RunFilter())) == 1


def test_a_key_whose_run_is_still_going_says_so(migrated_url: str, tmp_path: Path) -> None:
    store = SqlRunStore(make_engine(migrated_url))
    winner = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY))
    request = RunRequest(account_id="alpha", idempotency_key="open-1127")
    driver = RunDriver(winner.runtime, winner.create(request))
    driver.step()  # the winner is half-way when the loser arrives
    loser = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY),
                            ids=SequentialIdFactory("l"))  # fmt: skip
    with pytest.raises(RunAlreadyActive, match="in progress"):
        loser.run(request)
    assert loser.submit(request).run_id == driver.run.run_id  # a queue may return it
    assert driver.drive().state == "done"
    assert loser.run(request).state == "done"


def test_the_cli_exit_codes(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    cli("run", "--idempotency-key", "k1", "--mode", "dry-run")
    conflict = one_line_error(cli("run", "--idempotency-key", "k1", code=10))
    assert "another mode" in conflict
