"""The one ports bundle: an engine given none runs only a spec set whose steps need none."""

from __future__ import annotations

from fsm.adapters.memory_store import MemoryRunStore
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.conftest import TRADING_DAY


def test_a_trading_run_of_an_engine_without_ports_fails_saying_so() -> None:
    engine = Engine(MemoryRunStore(), None, Settings(), FixedClock(TRADING_DAY),
                    SequentialIdFactory())  # fmt: skip
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "failed"
    assert run.failure is not None
    assert run.failure["error_type"] == "InvalidConfiguration"
    assert run.failure["stage"] == "generating_signals"
    assert "this engine was given no ports" in run.failure["message"]
