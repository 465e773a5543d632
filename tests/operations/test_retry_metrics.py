"""Broker and database retries as Prometheus counters: scraped after a run that retried both,
parsed with prometheus-client's parser (the counters are the process's own)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import BrokerUnavailable, MarketDataUnavailable
from fsm.ids import SequentialIdFactory
from fsm.metrics import RunsCollector, metrics_registry
from fsm.pluginrecords import AccountSnapshot, OrderAck, OrderIntent, PriceSnapshot
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.metrics import SqlMetrics
from persistence.ridethrough import RideThrough
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)
RETRIES = (
    "tradefsm_broker_retries_total",
    "tradefsm_database_retries_total",
    "tradefsm_step_retries_total",
)


class FlakyBroker(PaperBroker):
    """Asks to be called later on its first account read, and is away for its first order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        slow_down = BrokerUnavailable("slow down")
        slow_down.retry_after = 0.0  # as the Alpaca adapter sets it from Retry-After
        self.faults = {"account": slow_down, "submit": BrokerUnavailable("connection reset")}

    def account(self) -> AccountSnapshot:
        if "account" in self.faults:
            raise self.faults.pop("account")
        return super().account()

    def submit(self, intent: OrderIntent) -> OrderAck:
        if "submit" in self.faults:
            raise self.faults.pop("submit")
        return super().submit(intent)


class LateData(BundledMarketData):
    """Its first price read finds the data not ready yet."""

    def __init__(self) -> None:
        super().__init__()
        self.late = [MarketDataUnavailable("today's closes are not published yet")]

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        if self.late:
            raise self.late.pop()
        return super().prices(symbols, as_of)


def _lock_first_intent_insert(engine: Any) -> list[str]:
    """The first INSERT of order intents meets a locked SQLite database (a transient fault)."""
    left = ["locked"]

    @event.listens_for(engine, "before_cursor_execute")
    def locked(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if left and statement.lstrip().upper().startswith("INSERT INTO ORDER_INTENTS"):
            left.pop()
            raise sqlite3.OperationalError("database is locked")

    return left


def _scrape(store: SqlRunStore, clock: FixedClock) -> dict[tuple[str, str], float]:
    registry = metrics_registry(RunsCollector(SqlMetrics(store.engine, clock), store, clock))
    return {(s.name, s.labels.get("kind", "")): s.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for s in family.samples if s.name in RETRIES}  # fmt: skip


def test_a_run_that_retried_shows_its_retries_by_kind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(engine)
    fault = _lock_first_intent_insert(engine)
    store, clock = (
        SqlRunStore(engine, RideThrough(base_seconds=0, max_seconds=0)),
        FixedClock(TRADING_DAY),
    )
    before = _scrape(store, clock)
    broker = FlakyBroker(tmp_path / "paper.db")
    market = LateData()
    engine = make_engine_for(store, broker, clock, FAST, market, ids=SequentialIdFactory("r"))
    run = engine.run(RunRequest(account_id="acct"))
    assert run.state == "done"
    assert (fault, broker.faults, market.late) == ([], {}, [])
    after = _scrape(store, clock)
    # the counters are the process's: other tests in it may have grown other kinds before
    grew = {key: n for key in after if (n := after[key] - before.get(key, 0))}
    assert grew == {
        ("tradefsm_broker_retries_total", "rate_limited"): 1,
        ("tradefsm_broker_retries_total", "unavailable"): 1,
        ("tradefsm_database_retries_total", "order intents"): 1,
        ("tradefsm_step_retries_total", "MarketDataUnavailable"): 1,
    }
