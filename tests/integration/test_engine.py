"""The engine end to end on a real SQLite file and the real paper broker."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, broken_links, make_engine_for


@pytest.fixture
def sql_store(sqlite_url: str) -> SqlRunStore:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    return SqlRunStore(engine)


def _path(store: SqlRunStore, run: RunRecord) -> list[tuple[str, str | None, bool]]:
    return [(e.event, e.target, e.accepted) for e in store.ledger(run.run_id)]


def test_first_run_buys_then_second_run_has_nothing_to_trade(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    first = engine.run(RunRequest(account_id="paper"))
    assert first.state == "done"
    assert _path(sql_store, first) == [
        ("created", "idle", True),
        ("start", "generating_signals", True),
        ("signals_generated", "analyzing", True),
        ("rebalance_needed", "planning", True),
        ("plan_approved", "executing", True),
        ("execution_completed", "done", True),
    ]
    orders = broker.orders()
    assert orders
    assert {o.side.value for o in orders} == {"BUY"}
    assert all(o.status == "filled" for o in orders)
    assert [i.status for i in sql_store.intents(first.run_id)] == ["filled"] * len(orders)
    assert not broken_links(sql_store.ledger(first.run_id))

    second = engine.run(RunRequest(account_id="paper"))
    assert second.state == "done"
    assert _path(sql_store, second)[-1] == ("rebalance_not_needed", "done", True)
    assert sql_store.intents(second.run_id) == []
    assert len(broker.orders()) == len(orders)


def test_every_checkpoint_is_stored_with_its_schema_version(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run = make_engine_for(sql_store, broker, clock).run(RunRequest(account_id="paper"))
    cps = sql_store.checkpoints(run.run_id)
    assert [c.state for c in cps] == ["generating_signals", "analyzing", "planning", "executing"]
    assert all(c.schema_version == 1 for c in cps)
    plan = cps[2].output
    assert Decimal(plan["portfolio_value"]) == Decimal("100000")
    assert all(isinstance(i["amount"], str) for i in plan["items"])  # Decimal as string


def test_dry_run_reports_the_plan_and_sends_nothing(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run = make_engine_for(sql_store, broker, clock).run(
        RunRequest(account_id="paper", mode=Mode.DRY_RUN)
    )
    assert run.state == "done"
    assert _path(sql_store, run)[-1] == ("plan_reported", "done", True)
    assert broker.orders() == []
    assert sql_store.checkpoints(run.run_id)[-1].state == "planning"


def test_signals_only_stops_after_signals(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    run = make_engine_for(sql_store, broker, clock).run(
        RunRequest(account_id="paper", mode=Mode.SIGNALS_ONLY)
    )
    assert _path(sql_store, run)[-1] == ("signals_reported", "done", True)
    assert [c.state for c in sql_store.checkpoints(run.run_id)] == ["generating_signals"]
    assert broker.orders() == []


def test_small_drift_with_only_micro_trades_ends_with_an_empty_plan(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    make_engine_for(sql_store, broker, clock).run(RunRequest(account_id="paper"))
    sensitive = Settings(drift_threshold=Decimal("0.0001"))
    engine = make_engine_for(sql_store, broker, clock, sensitive, ids=SequentialIdFactory("b"))
    run = engine.run(RunRequest(account_id="paper"))
    assert _path(sql_store, run)[-2:] == [
        ("rebalance_needed", "planning", True),
        ("plan_empty", "done", True),
    ]


def test_next_week_sells_what_left_the_strategy_before_buying(
    sql_store: SqlRunStore, broker: PaperBroker, tmp_path: Path
) -> None:
    make_engine_for(sql_store, broker, FixedClock(TRADING_DAY)).run(RunRequest(account_id="paper"))
    later = FixedClock(TRADING_DAY + timedelta(days=32))  # a Tuesday, a session
    engine = make_engine_for(sql_store, broker, later, ids=SequentialIdFactory("b"))
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "done", run.failure
    sides = [i.intent.side.value for i in sql_store.intents(run.run_id)]
    assert "SELL" in sides
    assert "BUY" in sides
    assert sides == sorted(sides, key=lambda s: s != "SELL")  # every SELL before any BUY
    assert run.as_of == date(2026, 12, 29)
