"""Order filled / rejected events: derived from the ledger row that completed execution (its
committed ExecutionReport holds each order's final status), so they come in the ledger's
commit order, right before that row's own event, with stable ids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import BrokerRejected
from fsm.eventlog import EventQuery
from fsm.events import RunEvent, read_events, start_of
from fsm.ids import SequentialIdFactory
from fsm.pluginrecords import OrderAck, OrderIntent, OrderStatus
from fsm.policyhistory import Proposal, approve, propose
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for

FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


class HalfBroker(PaperBroker):
    """Reports its first order rejected."""

    def orders(self, ids: Sequence[str] | None = None) -> list[OrderStatus]:
        found = super().orders(ids)
        return [o.model_copy(update={"status": "rejected"}) for o in found[:1]] + found[1:]


@pytest.fixture
def store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


def _events(log: SqlEventLog, query: EventQuery | None = None) -> list[RunEvent]:
    found = read_events(log, query or EventQuery(), None)
    return [event for _, events in found for event in events]


def _run(store: SqlRunStore, broker: PaperBroker) -> str:
    engine = make_engine_for(store, broker, FixedClock(TRADING_DAY), settings=FAST,
                             ids=SequentialIdFactory("a"))  # fmt: skip
    return engine.run(RunRequest(account_id="acct")).run_id


def test_each_filled_order_is_an_event_before_the_run_is_done(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id = _run(store, PaperBroker(tmp_path / "paper.db"))
    log = SqlEventLog(store.engine)
    events = _events(log)
    intents = {i.intent.client_order_id: i for i in store.intents(run_id)}
    orders = [e for e in events if e.kind.startswith("order.")]
    assert {e.order["client_order_id"] for e in orders if e.order} == set(intents)
    assert {e.kind for e in orders} == {"order.filled"}
    done = len(store.ledger(run_id))
    assert [e.kind for e in events[-len(orders) - 1 :]] == [*["order.filled"] * len(orders),
                                                            "run.done"]  # fmt: skip
    first = orders[0]
    assert first.id == f"{run_id}:{done}:order:{first.order['client_order_id']}"  # type: ignore[index]
    stored = intents[first.order["client_order_id"]]  # type: ignore[index]
    assert first.order["filled_qty"] == str(stored.filled_qty)  # type: ignore[index]
    assert first.order["symbol"] in first.summary  # type: ignore[index]
    assert _events(log) == events  # the same ids and content on every read
    after = _events(log, start_of(log, orders[0].id))  # --since an order event: after its row
    assert after == []


def test_a_rejected_order_is_an_event_of_its_own(store: SqlRunStore, tmp_path: Path) -> None:
    clock = FixedClock(TRADING_DAY)  # partial success allowed by the policy: the run ends done
    loosen = Proposal(None, {"allow_partial_success": True}, "risk-ann", "partial fills are fine")
    approve(store, propose(store, loosen, clock.now()).seq, "risk-bob", "ok", clock.now())
    run_id = _run(store, HalfBroker(tmp_path / "paper.db"))
    assert store.get_run(run_id).state == "done"
    orders = [e for e in _events(SqlEventLog(store.engine)) if e.kind.startswith("order.")]
    rejected = [e for e in orders if e.kind == "order.rejected"]
    assert len(rejected) == 1
    assert rejected[0].order["status"] == "rejected"  # type: ignore[index]
    assert len(orders) == len(store.intents(run_id))


def test_an_execution_that_is_refused_gives_its_order_events(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id = _run(store, HalfBroker(tmp_path / "paper.db"))  # partial success fails
    assert store.get_run(run_id).state == "failed"
    events = _events(SqlEventLog(store.engine), EventQuery(run_id=run_id))
    orders = [e for e in events if e.kind.startswith("order.")]
    assert sorted(e.kind for e in orders)[-1] == "order.rejected"
    assert len(orders) == len(store.intents(run_id))
    failing = len(store.ledger(run_id))  # they come with the failing row, before its event
    assert [e.kind for e in events[-len(orders) - 1 :]] == [*[e.kind for e in orders],
                                                            "run.failed"]  # fmt: skip
    assert all(e.id.startswith(f"{run_id}:{failing}:order:") for e in orders)
    assert _events(SqlEventLog(store.engine), EventQuery(run_id=run_id)) == events  # stable


class RefusingBroker(PaperBroker):
    """Fills the first order, refuses the second (a permanent error: the run fails)."""

    def submit(self, intent: OrderIntent) -> OrderAck:
        if self.orders():
            raise BrokerRejected(f"{intent.symbol}: not tradable today")
        return super().submit(intent)


def test_orders_filled_before_an_execution_failed_are_events(
    store: SqlRunStore, tmp_path: Path
) -> None:
    run_id = _run(store, RefusingBroker(tmp_path / "paper.db"))
    run = store.get_run(run_id)
    assert (run.state, run.failure["stage"]) == ("failed", "executing")  # type: ignore[index]
    events = _events(SqlEventLog(store.engine), EventQuery(run_id=run_id))
    [filled] = [e for e in events if e.kind.startswith("order.")]
    assert filled.kind == "order.filled"
    assert [e.kind for e in events[-2:]] == ["order.filled", "run.failed"]
    [sent] = [i for i in store.intents(run_id) if i.status == "filled"]
    assert filled.order["client_order_id"] == sent.intent.client_order_id  # type: ignore[index]
