"""Order intents and the execution outcome rules of DOMAIN.md §3."""

from __future__ import annotations

import hashlib

from fsm.clock import Clock
from fsm.ports import Broker, RunStore
from fsm.records import (
    ExecutionReport,
    IntentUpdate,
    OrderIntent,
    OrderStatus,
    Outcome,
    RebalancePlan,
    StoredIntent,
)


def client_order_id(run_id: str, symbol: str, side: str) -> str:
    """Deterministic, stable across resume, unique per (run, symbol, side), at most 48 chars."""
    digest = hashlib.sha256(f"{run_id}|{symbol}|{side}".encode()).hexdigest()[:16]
    return f"tf-{digest}-{side[0]}-{symbol}"[:48]


def order_intents(run_id: str, plan: RebalancePlan) -> tuple[OrderIntent, ...]:
    """One intent per BUY/SELL item, in plan order (SELLs before BUYs)."""
    return tuple(
        OrderIntent(
            client_order_id=client_order_id(run_id, item.symbol, item.action.value),
            symbol=item.symbol,
            side=item.action,
            qty=item.qty,
            reference_price=item.price,
        )
        for item in plan.trades
    )


def classify(placed: int, succeeded: int, trades_required: bool) -> Outcome:
    if placed == 0:
        return Outcome.FAILURE if trades_required else Outcome.SUCCESS
    if succeeded == placed:
        return Outcome.SUCCESS
    if 0 < succeeded < placed:
        return Outcome.PARTIAL_SUCCESS
    return Outcome.FAILURE


def execution_report(orders: tuple[OrderStatus, ...], trades_required: bool) -> ExecutionReport:
    succeeded = sum(1 for o in orders if o.succeeded)
    return ExecutionReport(
        placed=len(orders),
        succeeded=succeeded,
        trades_required=trades_required,
        outcome=classify(len(orders), succeeded, trades_required),
        orders=orders,
    )


def execute_plan(
    run_id: str, plan: RebalancePlan, broker: Broker, store: RunStore, clock: Clock
) -> ExecutionReport:
    """Commit every intent, then submit them in order (SELLs first) and collect final statuses."""
    intents = order_intents(run_id, plan)
    now = clock.now()
    store.save_intents(
        [StoredIntent(run_id=run_id, intent=i, status="pending", updated_at=now) for i in intents]
    )
    for intent in intents:
        ack = broker.submit(intent)
        store.update_intent(
            IntentUpdate(
                run_id=run_id,
                client_order_id=ack.client_order_id,
                status=ack.status,
                broker_order_id=ack.broker_order_id,
                updated_at=clock.now(),
            )
        )
    statuses = tuple(broker.orders([i.client_order_id for i in intents]))
    for status in statuses:
        store.update_intent(
            IntentUpdate(
                run_id=run_id,
                client_order_id=status.client_order_id,
                status=status.status,
                broker_order_id=status.broker_order_id,
                filled_qty=status.filled_qty,
                avg_price=status.avg_price,
                updated_at=clock.now(),
            )
        )
    return execution_report(statuses, trades_required=bool(intents))
