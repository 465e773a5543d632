"""Property: whatever the ports do, the ledger is gapless, chained, and replays to the state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.memory_store import MemoryRunStore
from fsm.clock import FixedClock
from fsm.definition import trading_definition
from fsm.driver import RunDriver
from fsm.engine import Engine
from fsm.errors import InvalidConfiguration, MarketDataUnavailable
from fsm.ids import SequentialIdFactory
from fsm.integrity import check_run, records_of
from fsm.kinds import Mode
from fsm.pluginrecords import (
    AccountSnapshot,
    OrderAck,
    OrderIntent,
    OrderStatus,
    SignalSet,
    TargetWeight,
)
from fsm.ports import RunContext
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from tests.conftest import TRADING_DAY

DEFINITION = trading_definition()
OUTCOMES = ("ok", "transient", "permanent", "invalid", "empty", "overweight")


class ScriptedSignals:
    def __init__(self, script: list[str]) -> None:
        self.script = script

    def generate(self, ctx: RunContext) -> Any:
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "transient":
            raise MarketDataUnavailable("provider busy")
        if outcome == "permanent":
            raise InvalidConfiguration("strategy misconfigured")
        if outcome == "invalid":
            return {"as_of": "soon", "strategy": 1}
        weight = {"empty": None, "overweight": Decimal("0.6")}.get(outcome, Decimal("0.2"))
        symbols = () if weight is None else ("AAPL", "MSFT", "SPY")
        targets = tuple(TargetWeight(symbol=s, weight=weight) for s in symbols if weight)
        return SignalSet(as_of=ctx.as_of, strategy="scripted", targets=targets)


class MemoryBroker:
    """An in-memory broker port for a unit test; fills or rejects every order."""

    def __init__(self, fills: bool) -> None:
        self.fills = fills
        self.orders_by_id: dict[str, OrderStatus] = {}

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(account_id="p", cash=Decimal(100000), buying_power=Decimal(100000))

    def submit(self, intent: OrderIntent) -> OrderAck:
        status = "filled" if self.fills else "rejected"
        self.orders_by_id[intent.client_order_id] = OrderStatus(
            client_order_id=intent.client_order_id, broker_order_id=f"b{len(self.orders_by_id)}",
            symbol=intent.symbol, side=intent.side, qty=intent.qty,
            filled_qty=intent.qty if self.fills else Decimal(0),
            avg_price=intent.reference_price if self.fills else None, status=status,
        )  # fmt: skip
        return OrderAck(client_order_id=intent.client_order_id, broker_order_id="b", status=status)

    def orders(self, client_order_ids: Sequence[str]) -> list[OrderStatus]:
        return [self.orders_by_id[i] for i in client_order_ids if i in self.orders_by_id]

    def cancel(self, client_order_id: str) -> OrderStatus:
        return self.orders_by_id[client_order_id]


scenarios = st.fixed_dictionaries({
    "mode": st.sampled_from(list(Mode)),
    "script": st.lists(st.sampled_from(OUTCOMES), max_size=4),
    "max_orders": st.sampled_from([1, 50]),
    "attempts": st.integers(1, 3),
    "fills": st.booleans(),
    "stale_days": st.sampled_from([0, 10]),
    "cancel": st.booleans(),
})  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_ledger_invariants_hold_for_any_scenario(scenario: dict[str, Any]) -> None:
    store = MemoryRunStore()
    market = BundledMarketData()
    ports = Ports(ScriptedSignals(scenario["script"]), market, MemoryBroker(scenario["fills"]))
    config = Settings(max_orders=scenario["max_orders"], retry_attempts=scenario["attempts"],
                      retry_base_seconds=0, retry_max_seconds=0)  # fmt: skip
    engine = Engine(store, ports, config, FixedClock(TRADING_DAY), SequentialIdFactory())
    as_of = date.fromordinal(TRADING_DAY.date().toordinal() - scenario["stale_days"])
    run = engine.create(RunRequest(account_id="p", mode=scenario["mode"], as_of=as_of))
    if scenario["cancel"]:
        run = engine.cancel(run.run_id, actor="ops", reason="property test")
    else:
        run = RunDriver(engine.runtime, run).drive()

    rows = store.ledger(run.run_id)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert check_run(records_of(store, run.run_id)) == ([], False)  # chain, commitments, run
    assert run.version == len(rows)
    state: str | None = None
    for row in rows:
        assert row.source == state
        if not row.accepted:
            assert row.target is None
            continue
        expected = (
            DEFINITION.initial if state is None else DEFINITION.transition(state, row.event).target
        )
        assert row.target == expected
        state = row.target
    assert state == run.state
    assert run.state in DEFINITION.final_states
    assert (run.failure is None) == (run.state == "done")
