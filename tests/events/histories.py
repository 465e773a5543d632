"""Run histories the event tests share: the ids a run's events have, as docs/operations.md
describes them, and a run another process resumed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.driver import RunDriver
from fsm.ids import SequentialIdFactory
from fsm.ports import RunStore
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.conftest import TRADING_DAY, make_engine_for

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


def expected_ids(store: RunStore, run_id: str) -> list[str]:
    """One id per ledger row, and before the row that completed execution one per order."""
    orders = [i.intent.client_order_id for i in store.intents(run_id)]
    ids: list[str] = []
    for row in store.ledger(run_id):
        if row.event == "execution_completed" and row.accepted:
            ids += [f"{run_id}:{row.seq}:order:{order}" for order in orders]
        ids.append(f"{run_id}:{row.seq}")
    return ids


def resumed_run(store: RunStore, tmp_path: Path, account: str) -> tuple[str, FixedClock]:
    """A run whose process died in analyzing, resumed to its end by another one after its
    lease lapsed; and the clock of that other process."""
    broker = PaperBroker(tmp_path / "paper.db")
    first = make_engine_for(store, broker, FixedClock(TRADING_DAY), settings=FAST,
                            ids=SequentialIdFactory("a"))  # fmt: skip
    driver = RunDriver(first.runtime, first.create(RunRequest(account_id=account)))
    while driver.run.state != "analyzing":
        driver.step()  # then the process dies
    later = FixedClock(TRADING_DAY + timedelta(seconds=FAST.lease_seconds + 1))
    second = make_engine_for(store, broker, later, settings=FAST, ids=SequentialIdFactory("b"))
    assert second.resume(driver.run.run_id).state == "done"
    return driver.run.run_id, later
