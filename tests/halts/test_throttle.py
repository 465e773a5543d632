"""The throttle trips the kill switch by itself: N failed executions within the window halt
the account, in the name of the process that counted, until a person unhalts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsm import halts
from fsm.adapters.alpaca import AlpacaBroker
from fsm.adapters.market_data import BundledMarketData
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import TradingHalted
from fsm.halts import throttle_limits
from fsm.policy import DEFAULT
from fsm.ports import RunStore
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.alpaca_server import KEY, SECRET, AlpacaServer
from tests.conftest import TRADING_DAY, make_engine_for

# Settings tighten the policy: the throttle on at 2 failures, counted over 7200 s (not 3600).
THROTTLE = Settings(actor="trader-ann", halt_after_failures=2, halt_failure_window_seconds=7200)


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer() as running:
        market = BundledMarketData()
        running.book.prices = dict(market.prices(market.universe(), TRADING_DAY.date()).prices)
        yield running


def _failing_run(engine: Engine, server: AlpacaServer) -> None:
    server.fail_next("POST /v2/orders", 403, message="forbidden")
    assert engine.run(RunRequest(account_id="acct-1")).state == "failed"


def test_failed_executions_halt_the_account_until_a_person_unhalts_it(
    store: RunStore, server: AlpacaServer
) -> None:
    alpaca = AlpacaBroker(KEY, SECRET, server.url, "acct-1")
    engine = make_engine_for(store, alpaca, FixedClock(TRADING_DAY), THROTTLE)  # type: ignore[arg-type]
    _failing_run(engine, server)
    assert halts.in_force(store.halts(), "acct-1") == []  # one failure: under the limit
    _failing_run(engine, server)
    [tripped] = halts.in_force(store.halts(), "acct-1")
    assert tripped.actor.startswith("throttle:")
    assert tripped.process == engine.owner  # the process that counted
    assert "2 failed execution(s) and 0 broker rejection(s)" in tripped.reason
    assert "halt_after_failures=2 within 7200 s" in tripped.reason
    with pytest.raises(TradingHalted, match="throttle: 2 failed execution"):
        engine.run(RunRequest(account_id="acct-1"))

    halts.unhalt(store, "acct-1", "risk-bob", "broker fixed", "test", engine.clock.now(),
                 throttle_limits(DEFAULT))  # fmt: skip
    _failing_run(engine, server)  # counted from the unhalt: one failure, no halt
    assert halts.in_force(store.halts(), "acct-1") == []
    last = engine.run(RunRequest(account_id="acct-1"))
    assert last.state == "done", last.failure


def test_the_throttle_is_off_unless_set(store: RunStore, server: AlpacaServer) -> None:
    alpaca = AlpacaBroker(KEY, SECRET, server.url, "acct-1")
    engine = make_engine_for(store, alpaca, FixedClock(TRADING_DAY),  # type: ignore[arg-type]
                             Settings(actor="trader-ann"))  # fmt: skip
    for _ in range(3):
        _failing_run(engine, server)
    assert store.halts() == []
