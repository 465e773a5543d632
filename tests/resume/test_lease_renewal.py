"""A healthy driver keeps its run through a long step; a frozen one loses it and stops."""

from __future__ import annotations

import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import SystemClock
from fsm.errors import InvalidConfiguration, RunLeased
from fsm.ids import SequentialIdFactory
from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.ports import RunContext, RunFilter
from fsm.requests import RunRequest
from fsm.settings import Settings, load_settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import make_engine_for
from tests.resume.test_crash import Site

SHORT_LEASE = Settings(lease_seconds=2.0, lease_renew_seconds=0.25)


class SlowStrategy:
    """A strategy that thinks until the test lets it go: longer than the lease lasts."""

    def __init__(self) -> None:
        self.thinking = threading.Event()
        self.release = threading.Event()

    def generate(self, ctx: RunContext) -> SignalSet:
        self.thinking.set()
        assert self.release.wait(120)
        return SignalSet(as_of=ctx.as_of, strategy="slow",
                         targets=(TargetWeight(symbol="SPY", weight=Decimal("0.5")),))  # fmt: skip


def test_a_step_longer_than_the_lease_is_never_taken_over(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    sql_store = SqlRunStore(engine)
    broker = PaperBroker(tmp_path / "p.db")
    strategy = SlowStrategy()
    driving = make_engine_for(sql_store, broker, SystemClock(), SHORT_LEASE, signals=strategy)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(
        driving.run(RunRequest(account_id="paper"))))  # fmt: skip
    worker.start()
    try:
        assert strategy.thinking.wait(60)
        # Past the first lease: only renewals (every 0.25 s, eight per lease) can keep it now.
        time.sleep(SHORT_LEASE.lease_seconds * 1.5)
        [run] = sql_store.list_runs(RunFilter(status="active"))
        other = make_engine_for(sql_store, broker, SystemClock(), SHORT_LEASE,
                                ids=SequentialIdFactory("other"))  # fmt: skip
        with pytest.raises(RunLeased):
            other.resume(run.run_id)
        assert other.claim() is None
    finally:
        strategy.release.set()
        worker.join(60)
    assert results[0].state == "done"


def test_renewal_must_fit_in_the_lease() -> None:
    with pytest.raises(InvalidConfiguration, match="must fit three times"):
        load_settings(lease_seconds=10, lease_renew_seconds=5)
    assert load_settings(lease_seconds=10).renew_every == 2.5


def test_a_frozen_driver_is_taken_over_and_stops_when_it_wakes(tmp_path: Path) -> None:
    """An order already in flight when the driver froze may still reach the broker when it
    wakes: the broker's refusal of a repeated client_order_id keeps it single (exactly-once
    needs that); nothing new is sent and nothing more is written."""
    site = Site(tmp_path, protect=True, TRADEFSM_LEASE_SECONDS="1.2",
                TRADEFSM_LEASE_RENEW_SECONDS="0.3", TRADEFSM_PAPER_LATENCY_MS="300")  # fmt: skip
    frozen = site.start("run")
    deadline = time.monotonic() + 30
    while not site.orders_of("paper") and time.monotonic() < deadline:
        time.sleep(0.02)  # until it is executing and has sent a first order
    time.sleep(0.12)  # then freeze it while it waits on the (slow) broker, between writes
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        time.sleep(2.0)  # past its lease
        run_id = site.active_run()
        code, _, err = site.cli("resume", run_id)
        assert code == 0, err
        sent = list(site.orders_of("paper"))
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    _, err = frozen.communicate(timeout=60)
    assert frozen.returncode == 5, err
    assert "Traceback" not in err
    after = site.orders_of("paper")
    assert set(after) == set(sent)  # no new order after it woke
    assert len(after) == len(set(after))  # and none twice
    assert site.store.get_run(run_id).state == "done"
