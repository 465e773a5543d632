"""Every way a run can fail ends in `failed` with a typed error, the stage and a message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.dailytotals import DailyCheck
from fsm.driver import RunDriver
from fsm.engine import Engine
from fsm.errors import ConcurrentModification, MarketDataUnavailable, StorageError
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.pluginrecords import AccountSnapshot, OrderStatus, SignalSet, TargetWeight
from fsm.policyhistory import Proposal, approve, propose
from fsm.ports import RunContext
from fsm.records import Checkpoint, EncodedDocuments, LedgerEntry, RunRecord, StepAttempt
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


class FixedSignals:
    def __init__(self, output: Any) -> None:
        self.output = output

    def generate(self, ctx: RunContext) -> Any:
        return self.output


def _signals(*pairs: tuple[str, str]) -> SignalSet:
    targets = tuple(TargetWeight(symbol=s, weight=Decimal(w)) for s, w in pairs)
    return SignalSet(as_of=TRADING_DAY.date(), strategy="test", targets=targets)


def _failure(store: SqlRunStore, run: RunRecord) -> tuple[str, str, str]:
    assert run.state == "failed"
    assert store.get_run(run.run_id).status.value == "failed"
    assert not broken_links(store.ledger(run.run_id))
    last = store.ledger(run.run_id)[-1]
    assert (last.event, last.target, last.error_type) == (
        "fail",
        "failed",
        run.failure["error_type"],
    )
    return run.failure["error_type"], run.failure["stage"], run.failure["message"]


def _refused(store: SqlRunStore, run: RunRecord) -> LedgerEntry:
    rows = store.ledger(run.run_id)
    refused = [r for r in rows if not r.accepted]
    assert len(refused) == 1
    assert refused[0].target is None
    assert rows[-1].seq == refused[0].seq + 1  # then the fail row
    return refused[0]


def _run(engine: Engine, **request: Any) -> RunRecord:
    return engine.run(RunRequest(account_id="paper", **request))


LIVE = "https://api.alpaca.markets"  # never reached: the guards refuse before any broker call


@pytest.mark.parametrize(
    ("request_args", "settings", "guard"),
    [
        ({"mode": Mode.LIVE}, Settings(broker="alpaca", alpaca_base_url=LIVE), "mode_allowed"),
        ({"mode": Mode.LIVE}, Settings(live_trading_enabled=True), "broker_endpoint"),
        ({}, Settings(broker="alpaca", alpaca_base_url=LIVE), "broker_endpoint"),
        ({"as_of": date(2026, 10, 1)}, Settings(), "as_of_fresh"),
        ({"as_of": date(2026, 12, 1)}, Settings(), "as_of_fresh"),
        ({}, Settings(max_orders=2), "max_orders"),
        ({}, Settings(max_order_notional=Decimal(5000)), "order_notional_limit"),
        ({}, Settings(max_total_notional=Decimal(50000)), "total_notional_limit"),
        ({}, Settings(allowed_symbols=("SPY",)), "symbols_allowed"),
    ],
)
def test_a_refusing_guard_is_ledgered_then_the_run_fails(
    sql_store: SqlRunStore,
    broker: PaperBroker,
    clock: FixedClock,
    request_args: dict[str, Any],
    settings: Settings,
    guard: str,
) -> None:
    run = _run(make_engine_for(sql_store, broker, clock, settings), **request_args)
    error_type, _, message = _failure(sql_store, run)
    assert error_type == "GuardRejected"
    assert guard in message
    refused = _refused(sql_store, run)
    assert [d.name for d in refused.guards if not d.passed] == [guard]
    assert broker.orders() == []


@pytest.mark.parametrize(
    ("signals", "guard"),
    [
        (_signals(), "has_signals"),
        (_signals(("AAPL", "0.7"), ("MSFT", "0.7")), "weights_in_range"),
        (_signals(("AAPL", "-0.1")), "weights_in_range"),
        (_signals(("aapl!", "0.5")), "symbols_well_formed"),
        (_signals(("AAPL", "0.2"), ("AAPL", "0.2")), "symbols_well_formed"),
    ],
)
def test_bad_signals_are_refused_by_their_guard(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock, signals: SignalSet, guard: str
) -> None:
    engine = make_engine_for(sql_store, broker, clock, signals=FixedSignals(signals))
    run = _run(engine)
    assert _failure(sql_store, run)[:2] == ("GuardRejected", "generating_signals")
    assert [d.name for d in _refused(sql_store, run).guards if not d.passed] == [guard]


def test_invalid_step_output_fails_with_a_typed_error(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    bad = {"as_of": "2026-11-27", "strategy": "x", "targets": [{"symbol": "A", "weight": "lots"}]}
    run = _run(make_engine_for(sql_store, broker, clock, signals=FixedSignals(bad)))
    error_type, stage, message = _failure(sql_store, run)
    assert (error_type, stage) == ("InvalidStepOutput", "generating_signals")
    assert "targets.0.weight" in message


def test_an_unexpected_port_error_is_recorded_not_swallowed(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    class Exploding:
        def generate(self, ctx: RunContext) -> SignalSet:
            raise ZeroDivisionError("strategy bug")

    run = _run(make_engine_for(sql_store, broker, clock, signals=Exploding()))
    assert _failure(sql_store, run) == (
        "StepCrashed", "generating_signals", "ZeroDivisionError: strategy bug"
    )  # fmt: skip


class DownMarket:
    def prices(self, symbols: Sequence[str], as_of: date) -> Any:
        raise MarketDataUnavailable("provider answered 503")


def test_market_data_failure_fails_in_analyzing(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(
        sql_store, broker, clock, market=DownMarket(), signals=FixedSignals(_signals(("SPY", "1")))
    )  # type: ignore[arg-type]  # a market data port that is down
    run = _run(engine)
    assert _failure(sql_store, run)[:2] == ("MarketDataUnavailable", "analyzing")


class ThinBroker(PaperBroker):
    """Reports no buying power although it holds cash (e.g. a margin call)."""

    def account(self) -> AccountSnapshot:
        return super().account().model_copy(update={"buying_power": Decimal(0)})


class StuckBroker(PaperBroker):
    """Orders stay open, or are rejected, instead of filling."""

    status = "new"

    def orders(self, client_order_ids: Sequence[str] | None = None) -> list[OrderStatus]:
        return [
            o.model_copy(update={"status": self.status}) for o in super().orders(client_order_ids)
        ]


class RejectingBroker(StuckBroker):
    status = "rejected"


@pytest.mark.parametrize(
    ("broker_class", "guard", "stage"),
    [
        (StuckBroker, "orders_terminal", "executing"),
        (RejectingBroker, "execution_succeeded", "executing"),
    ],
)
def test_broker_side_refusals(
    sql_store: SqlRunStore,
    clock: FixedClock,
    tmp_path: Any,
    broker_class: type,
    guard: str,
    stage: str,
) -> None:
    # Orders still open after the settle wait are refused; the wait is short here.
    settings = Settings(order_settle_seconds=0.5)
    run = _run(make_engine_for(sql_store, broker_class(tmp_path / "b.db"), clock, settings))
    assert _failure(sql_store, run)[:2] == ("GuardRejected", stage)
    assert guard in [d.name for d in _refused(sql_store, run).guards if not d.passed]


def test_without_buying_power_the_plan_buys_nothing(
    sql_store: SqlRunStore, clock: FixedClock, tmp_path: Any
) -> None:
    broker = ThinBroker(tmp_path / "thin.db")
    run = _run(make_engine_for(sql_store, broker, clock))
    assert sql_store.ledger(run.run_id)[-1].event == "plan_empty"
    assert broker.orders() == []


def test_partial_success_fails_unless_allowed(
    sql_store: SqlRunStore, clock: FixedClock, tmp_path: Any
) -> None:
    class HalfBroker(PaperBroker):
        def orders(self, ids: Sequence[str] | None = None) -> list[OrderStatus]:
            found = super().orders(ids)
            return [o.model_copy(update={"status": "rejected"}) for o in found[:1]] + found[1:]

    strict = _run(make_engine_for(sql_store, HalfBroker(tmp_path / "a.db"), clock))
    assert "PARTIAL_SUCCESS" in _failure(sql_store, strict)[2]
    ignored = make_engine_for(sql_store, HalfBroker(tmp_path / "b.db"), clock,
                              Settings(allow_partial_success=True),
                              ids=SequentialIdFactory("b"))  # fmt: skip
    assert _run(ignored).state == "failed"  # a setting may only tighten the policy
    loosen = Proposal(None, {"allow_partial_success": True}, "risk-ann", "partial fills are fine")
    approve(sql_store, propose(sql_store, loosen, clock.now()).seq, "risk-bob", "ok", clock.now())
    lenient = make_engine_for(sql_store, HalfBroker(tmp_path / "c.db"), clock,
                              ids=SequentialIdFactory("c"))  # fmt: skip
    assert _run(lenient).state == "done"


class FailingCommits(SqlRunStore):
    """A real SQLite store whose commit of one event fails, as a full disk would."""

    fail_on = "plan_approved"

    def commit_transition(
        self,
        run: RunRecord,
        entry: LedgerEntry,
        checkpoint: Checkpoint | None,
        attempt: StepAttempt | None = None,
        documents: EncodedDocuments | None = None,
        daily: DailyCheck | None = None,
        *,
        flush: bool = True,
    ) -> None:
        if entry.event == self.fail_on:
            raise StorageError("disk I/O error")
        super().commit_transition(run, entry, checkpoint, attempt, documents, daily, flush=flush)


def test_a_failed_commit_leaves_the_run_where_it_was(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    store = FailingCommits(sql_store.engine)
    engine = make_engine_for(store, broker, clock)
    run = engine.create(RunRequest(account_id="paper"))
    with pytest.raises(StorageError):
        RunDriver(engine.runtime, run).drive()
    stored = store.get_run(run.run_id)
    assert (stored.state, stored.status.value) == ("planning", "active")
    assert [e.event for e in store.ledger(run.run_id)][-1] == "rebalance_needed"
    assert broker.orders() == []
    assert not broken_links(store.ledger(run.run_id))


def test_a_concurrent_writer_stops_the_engine_without_writing(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = make_engine_for(sql_store, broker, clock)
    run = engine.create(RunRequest(account_id="paper"))
    other = make_engine_for(sql_store, broker, clock, ids=SequentialIdFactory("o"))
    RunDriver(other.runtime, run).step()  # another process (same lease: split brain) moves it
    with pytest.raises(ConcurrentModification):
        RunDriver(engine.runtime, run).drive()
    assert [e.event for e in sql_store.ledger(run.run_id)] == ["created", "start"]


def test_as_of_defaults_to_the_clock_date(sql_store: SqlRunStore, broker: PaperBroker) -> None:
    clock = FixedClock(TRADING_DAY + timedelta(days=1))
    run = _run(make_engine_for(sql_store, broker, clock, signals=FixedSignals(_signals())))
    assert run.as_of == date(2026, 11, 28)
