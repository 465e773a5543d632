"""Order intents and the execution outcome rules of DOMAIN.md §3."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from fsm.clock import Clock
from fsm.errors import DuplicateClientOrderId, TradeFsmError
from fsm.pluginrecords import TERMINAL, OrderIntent, OrderStatus
from fsm.ports import Broker, RunStore
from fsm.records import ExecutionReport, Fence, IntentUpdate, Outcome, RebalancePlan, StoredIntent


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
    run_id: str,
    plan: RebalancePlan,
    broker: Broker,
    store: RunStore,
    clock: Clock,
    fence: Callable[[], Fence],
    failpoint: Callable[[str], None],
    *,
    may_submit: bool = True,
    settle_seconds: float = 0,
    sleep: Callable[[float], None] = time.sleep,
    stop_point: Callable[[], None] = lambda: None,
) -> ExecutionReport:
    """Place the plan's orders exactly once, even when resumed after a crash.

    Intents are committed before the broker hears of them; then every intent is reconciled
    with the broker by client_order_id and only those the broker never saw are submitted.
    ``stop_point`` is called before each order: it raises when the process must stand down.
    """
    stored = store.intents(run_id)
    if stored:
        intents = tuple(s.intent for s in stored)
    else:
        intents = order_intents(run_id, plan)
        now = clock.now()
        pending = [
            StoredIntent(run_id=run_id, intent=i, status="pending", updated_at=now) for i in intents
        ]
        store.save_intents(pending, fence())
        failpoint("intents.saved")
    ids = [i.client_order_id for i in intents]
    seen = {o.client_order_id for o in broker.orders(ids)}
    for intent in intents:
        if may_submit and intent.client_order_id not in seen:
            stop_point()
            _submit(run_id, intent, broker, store, clock, fence, failpoint)
    statuses = settle(broker, ids, settle_seconds, sleep)
    failpoint("broker.filled")
    store.update_intents([_update(run_id, status, clock) for status in statuses], fence())
    failpoint("intents.reconciled")
    return execution_report(statuses, trades_required=bool(intents))


def settle(
    broker: Broker, ids: list[str], seconds: float, sleep: Callable[[float], None]
) -> tuple[OrderStatus, ...]:
    """The orders' statuses once none is open, looking again (0.2 s, doubling to 2 s) for up
    to ``seconds``; an order still open then is cancelled, and reported as the broker has it."""
    deadline = time.monotonic() + seconds
    pause = 0.2
    while True:
        statuses = _first_per_id(broker.orders(ids))
        still_open = [s.client_order_id for s in statuses if s.status not in TERMINAL]
        if not still_open:
            return statuses
        left = deadline - time.monotonic()
        if left <= 0:
            for coid in still_open:
                broker.cancel(coid)
            return _first_per_id(broker.orders(ids))
        sleep(min(pause, left))
        pause = min(pause * 2, 2.0)


def _submit(
    run_id: str,
    intent: OrderIntent,
    broker: Broker,
    store: RunStore,
    clock: Clock,
    fence: Callable[[], Fence],
    failpoint: Callable[[str], None],
) -> None:
    failpoint("broker.before_submit")
    # Still ours, and nobody asked to cancel? An order is sent only under a live lease.
    store.renew_lease(fence(), for_order=True)
    try:
        ack = broker.submit(intent)
    except DuplicateClientOrderId:
        return  # the broker already has it: its status is reconciled with the others
    failpoint("broker.submitted")
    status = ack.status
    if status in ("filled", "partially_filled") and ack.filled_qty is None:
        status = "accepted"  # a fill is recorded with its quantity, once the broker says it
    update = IntentUpdate(
        run_id=run_id,
        client_order_id=ack.client_order_id,
        status=status,
        broker_order_id=ack.broker_order_id,
        filled_qty=ack.filled_qty,
        avg_price=ack.avg_price,
        updated_at=clock.now(),
    )
    store.update_intent(update, fence())
    failpoint("intent.acked")


OPEN_STATUSES = frozenset({"new", "accepted", "pending_new"})  # at the broker, not yet final


def withdraw(
    run_id: str, broker: Broker, store: RunStore, clock: Clock, fence: Callable[[], Fence]
) -> str | None:
    """Stop a run's orders: never-sent intents become ``cancelled``, orders still open at the
    broker are cancelled there. Returns what could not be cancelled, if anything."""
    refused = []
    for stored in store.intents(run_id):
        coid = stored.intent.client_order_id
        if stored.status == "pending":  # committed, never sent: it never will be now
            update = IntentUpdate(run_id=run_id, client_order_id=coid, status="cancelled",
                                  updated_at=clock.now())  # fmt: skip
        elif stored.status in OPEN_STATUSES:
            try:
                update = _update(run_id, broker.cancel(coid), clock)
            except TradeFsmError as exc:
                refused.append(f"{coid} ({exc.message})")
                continue
        else:
            continue
        store.update_intent(update, fence())
    return f"still open at the broker: {', '.join(refused)}" if refused else None


def _first_per_id(orders: list[OrderStatus]) -> tuple[OrderStatus, ...]:
    first: dict[str, OrderStatus] = {}
    for order in orders:
        first.setdefault(order.client_order_id, order)
    return tuple(first.values())


def _update(run_id: str, status: OrderStatus, clock: Clock) -> IntentUpdate:
    return IntentUpdate(
        run_id=run_id,
        client_order_id=status.client_order_id,
        status=status.status,
        broker_order_id=status.broker_order_id,
        filled_qty=status.filled_qty,
        avg_price=status.avg_price,
        updated_at=clock.now(),
    )
