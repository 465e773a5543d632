"""A halt reaches a driver already in `executing`: it stands down before its next order, the
run fails naming the halt, open orders are cancelled, and nothing is ever sent twice.

A gate holds one order inside the broker call (after the check before it) until the test has
recorded the halt: the halt lands exactly while that order is in flight, without racing a
clock. The paper broker takes a latency per call; the Alpaca adapter talks to a local server
that speaks Alpaca's REST contract (tests/alpaca_server.py) and leaves orders open.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fsm import halts
from fsm.adapters.alpaca import AlpacaBroker
from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import RunNotResumable
from fsm.halts import throttle_limits
from fsm.ids import SequentialIdFactory
from fsm.killswitch import halt_trading
from fsm.pluginrecords import OrderAck, OrderIntent
from fsm.ports import Broker, RunStore
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.audit import SqlAudit
from persistence.store import SqlRunStore
from tests.alpaca_server import KEY, SECRET, AlpacaServer
from tests.conftest import TRADING_DAY, make_engine_for


class Gate:
    """A broker whose ``at``-th order waits inside the call until the test releases it."""

    def __init__(self, broker: Broker, at: int) -> None:
        self.broker, self.at, self.calls = broker, at, 0
        self.reached, self.released = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.broker, name)

    def submit(self, intent: OrderIntent) -> OrderAck:
        self.calls += 1
        if self.calls == self.at:
            self.reached.set()
            assert self.released.wait(120), "the test never released the order"
        return self.broker.submit(intent)


Stopped = tuple[RunRecord, halts.Halt, dict[str, str]]  # the run, the halt, what it cancelled


def _halted_while_in_flight(store: RunStore, gate: Gate, account: str, **settings: Any) -> Stopped:
    """Drive a run in a thread; halt its account while the gated order is in the broker."""
    engine = make_engine_for(store, gate, FixedClock(TRADING_DAY),  # type: ignore[arg-type]
                             Settings(actor="trader-ann", **settings))  # fmt: skip
    ended: list[RunRecord] = []
    driving = threading.Thread(target=lambda: ended.append(
        engine.run(RunRequest(account_id=account))))  # fmt: skip
    driving.start()
    assert gate.reached.wait(120), "the run never reached its gated order"
    done = halt_trading(store, account, "ops-ann", "fat finger on the desk", "test-halt",
                        TRADING_DAY, lambda _account: gate.broker)  # fmt: skip
    gate.released.set()
    driving.join(120)
    assert not driving.is_alive()
    [run] = ended
    return run, done.halt, done.cancelled


def _stopped_by(run: RunRecord, store: RunStore, halt: halts.Halt) -> None:
    assert run.state == "failed"
    failure = run.failure or {}
    assert (failure["error_type"], failure["stage"]) == ("TradingHalted", "executing")
    assert f"account {run.account_id} halted by ops-ann" in failure["message"]
    assert "fat finger on the desk" in failure["message"]
    last = store.ledger(run.run_id)[-1]
    assert (last.event, last.commits["halts"]) == ("fail", halt.hash)
    if isinstance(store, SqlRunStore):
        assert SqlAudit(store.engine).verify().ok


def test_a_halt_stops_a_paper_driver_before_its_next_order(store: RunStore, tmp_path: Path) -> None:
    paper = PaperBroker(tmp_path / "paper.db", latency_s=0.02)
    run, halt, _ = _halted_while_in_flight(store, Gate(paper, at=1), "paper")
    _stopped_by(run, store, halt)
    sent = [o.client_order_id for o in paper.orders()]
    intents = {i.intent.client_order_id: i.status for i in store.intents(run.run_id)}
    assert len(intents) > 2
    assert sent == [next(iter(intents))]  # only the order already in flight went out
    assert list(intents.values()) == ["filled"] + ["cancelled"] * (len(intents) - 1)

    halts.unhalt(store, "paper", "risk-bob", "desk checked", "test", TRADING_DAY,
                 throttle_limits(Settings()))  # fmt: skip
    engine = make_engine_for(store, paper, FixedClock(TRADING_DAY), Settings(actor="trader-ann"),
                             ids=SequentialIdFactory("after"))  # fmt: skip
    with pytest.raises(RunNotResumable):
        engine.resume(run.run_id)  # ended: it never sends the rest
    assert engine.retry(run.run_id).state == "done"  # a new run, from fresh data
    assert max(Counter(o.client_order_id for o in paper.orders()).values()) == 1


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer() as running:
        market = BundledMarketData()
        running.book.prices = dict(market.prices(market.universe(), TRADING_DAY.date()).prices)
        running.book.fill_after = 3600  # orders stay open at the broker
        yield running


def test_a_halt_cancels_open_orders_and_stops_an_alpaca_driver(
    store: RunStore, server: AlpacaServer
) -> None:
    alpaca = AlpacaBroker(KEY, SECRET, server.url, "acct-1")
    run, halt, cancelled = _halted_while_in_flight(store, Gate(alpaca, at=2), "acct-1",
                                                   order_settle_seconds=0)  # fmt: skip
    first, second = server.sent()  # the open order, and the one in flight at the halt
    assert cancelled == {first: "canceled"}  # cancelled by the halt itself
    _stopped_by(run, store, halt)
    assert {o["client_order_id"]: o["status"] for o in server.book.orders} == {
        first: "canceled", second: "canceled"}  # fmt: skip
    intents = {i.intent.client_order_id: i.status for i in store.intents(run.run_id)}
    assert (intents.pop(first), intents.pop(second)) == ("canceled", "canceled")
    assert intents
    assert set(intents.values()) == {"cancelled"}
