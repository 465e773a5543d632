"""A batch of intent updates (a run's orders reconciled together): one fence, all or none."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from fsm.commitments import intent_event_hash
from fsm.errors import ConcurrentModification, RunNotFound
from fsm.ledger import GENESIS_HASH
from fsm.pluginrecords import Side
from fsm.ports import RunStore
from fsm.records import IntentUpdate, OrderIntent, RunRecord, StoredIntent
from tests.contract.test_run_store import T0, _fence, _move, _new_run


def _two_intents(store: RunStore) -> RunRecord:
    run, _ = _new_run(store)
    intents = [
        StoredIntent(run_id="run_1", status="pending", updated_at=T0, intent=OrderIntent(
            client_order_id=f"tf-{n}", symbol=symbol, side=Side.BUY, qty=Decimal("2.5"),
            reference_price=Decimal("10.25")))
        for n, symbol in enumerate(["AAA", "BBB"])
    ]  # fmt: skip
    store.save_intents(intents, _fence(run))
    return run


def _filled(coid: str, seconds: int) -> IntentUpdate:
    at = T0 + timedelta(seconds=seconds)
    return IntentUpdate(run_id="run_1", client_order_id=coid, status="filled",
                        broker_order_id=f"b-{coid}", filled_qty=Decimal("2.5"),
                        avg_price=Decimal("10.25"), updated_at=at)  # fmt: skip


def test_a_batch_updates_every_intent_and_chains_each_history(store: RunStore) -> None:
    run = _two_intents(store)
    accepted = IntentUpdate(
        run_id="run_1",
        client_order_id="tf-0",
        status="accepted",
        broker_order_id="b-tf-0",
        updated_at=T0 + timedelta(seconds=1),
    )
    store.update_intents([accepted, _filled("tf-0", 2), _filled("tf-1", 2)], _fence(run))
    stored = {s.intent.client_order_id: s for s in store.intents("run_1")}
    assert {c: (s.status, s.filled_qty) for c, s in stored.items()} == {
        "tf-0": ("filled", Decimal("2.5")), "tf-1": ("filled", Decimal("2.5"))}  # fmt: skip
    events = store.intent_events("run_1")
    assert [(e.client_order_id, e.n, e.status) for e in events] == [
        ("tf-0", 1, "pending"), ("tf-0", 2, "accepted"), ("tf-0", 3, "filled"),
        ("tf-1", 1, "pending"), ("tf-1", 2, "filled"),
    ]  # fmt: skip
    for coid, history in (("tf-0", events[:3]), ("tf-1", events[3:])):
        intent = stored[coid].intent.model_dump() | {"run_id": "run_1",
                                                     "position": int(coid[-1])}  # fmt: skip
        prev = GENESIS_HASH
        for event in history:
            assert event.prev_hash == prev
            assert event.hash == intent_event_hash(prev, intent, event.model_dump())
            prev = event.hash
    assert [h[1] for h in store.intent_heads("run_1")] == [3, 2]


def test_a_batch_is_all_or_nothing(store: RunStore) -> None:
    run = _two_intents(store)
    unknown = _filled("tf-9", 2)
    with pytest.raises(RunNotFound):
        store.update_intents([_filled("tf-0", 2), unknown], _fence(run))
    moved = _move(store, run, "start", "generating_signals")
    with pytest.raises(ConcurrentModification):
        store.update_intents([_filled("tf-0", 2), _filled("tf-1", 2)], _fence(run))  # old fence
    assert [s.status for s in store.intents("run_1")] == ["pending", "pending"]
    assert len(store.intent_events("run_1")) == 2
    store.update_intents([_filled("tf-1", 3)], _fence(moved))
    assert [s.status for s in store.intents("run_1")] == ["pending", "filled"]
