"""The orders a run's execution ended before the run failed in ``executing``.

A run that fails while executing (an order refused, a guard refusing the execution's outcome,
a halt, a cancel, a deadline) commits, with its failing row, an execution report of the
orders that had reached a final status at the broker by then, read from the order intents;
the events read it from that row (``order.filled``/``order.rejected``, fsm.events), as they
read a completed execution's report, so such orders are events too.
"""

from __future__ import annotations

from decimal import Decimal

from fsm.pluginrecords import OrderStatus
from fsm.ports import RunStore
from fsm.records import ExecutionReport, Outcome, StoredIntent

FINAL_STATUSES = frozenset({"filled", "partially_filled", "rejected", "canceled", "expired"})


def orders_at_failure(store: RunStore, run_id: str) -> ExecutionReport | None:
    """The report of the run's orders that ended at the broker; None when none did."""
    ended = [_status(i) for i in store.intents(run_id) if i.status in FINAL_STATUSES]
    if not ended:
        return None
    succeeded = sum(o.succeeded for o in ended)
    return ExecutionReport(
        placed=len(ended), succeeded=succeeded, trades_required=True,
        outcome=Outcome.PARTIAL_SUCCESS if succeeded else Outcome.FAILURE,
        orders=tuple(ended),
    )  # fmt: skip


def _status(stored: StoredIntent) -> OrderStatus:
    intent = stored.intent
    return OrderStatus(
        client_order_id=intent.client_order_id, broker_order_id=stored.broker_order_id or "",
        symbol=intent.symbol, side=intent.side, qty=intent.qty,
        filled_qty=stored.filled_qty or Decimal(0), avg_price=stored.avg_price,
        status=stored.status,  # one of FINAL_STATUSES
    )  # fmt: skip
