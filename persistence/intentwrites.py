"""What the broker said about a run's orders, written at the DB-API level (persistence.hotpath).

A batch of intent updates is one transaction: the fence (same version, same owner; it renews
the lease), one read of the intents' last history events, then each intent's latest view and
its next history event, chained by hash as ``persistence.intents.record`` chains one. The
statements are compiled once per dialect.

The fence is defined here for every driver write of the store: ``FENCED`` is the update a
transition's move of the run builds on, ``FENCE`` (``fenced`` in a Connection, ``renew`` in a
DB-API transaction) the lease renewal an intent or attempt write makes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, exists, func, insert, select, update

from fsm.errors import ConcurrentModification, RunNotFound
from fsm.records import Fence, IntentUpdate
from persistence.cancels import NOT_ASKED_TO_STOP
from persistence.halts import halted
from persistence.hotpath import DriverStatement, DriverTransaction
from persistence.intents import INTENT_COLUMNS, chained_event
from persistence.tables import cancel_requests, intent_events, order_intents, runs

# The fence of a driver's write: the run is at the same version under the same owner and not
# asked to stop.
FENCED = update(runs).where(
    runs.c.run_id == bindparam("b_run_id"),
    runs.c.version == bindparam("b_version"),
    runs.c.lease_owner == bindparam("b_owner"),
    NOT_ASKED_TO_STOP,
)
FENCE = FENCED.values(lease_expires_at=bindparam("b_expires"))


def _fence_params(fence: Fence) -> dict[str, Any]:
    return {
        "b_run_id": fence.run_id,
        "b_version": fence.version,
        "b_owner": fence.lease_owner,
        "b_expires": fence.lease_expires_at,
    }


def _moved_on(fence: Fence) -> ConcurrentModification:
    return ConcurrentModification(
        f"run {fence.run_id} moved on or changed hands; nothing was written", run_id=fence.run_id
    )


def fenced(conn: Connection, fence: Fence) -> None:
    """Renew the lease under ``fence`` in ``conn``'s transaction, or ConcurrentModification."""
    if conn.execute(FENCE, _fence_params(fence)).rowcount != 1:
        raise _moved_on(fence)


_EARLIER = intent_events.alias("earlier")
_LAST_N = (
    select(func.max(_EARLIER.c.n))
    .where(_EARLIER.c.client_order_id == intent_events.c.client_order_id)
    .scalar_subquery()
)
_HEADS = (
    select(*INTENT_COLUMNS, intent_events.c.n, intent_events.c.hash)
    .join(intent_events, intent_events.c.client_order_id == order_intents.c.client_order_id)
    .where(order_intents.c.run_id == bindparam("run_id"), intent_events.c.n == _LAST_N)
)


def _kept_unless_given(name: str) -> Any:
    """A column the update sets when the broker said it, and keeps otherwise."""
    column = order_intents.c[name]
    return func.coalesce(bindparam(name, type_=column.type), column)


_UPDATE = (
    update(order_intents)
    .where(order_intents.c.client_order_id == bindparam("b_client_order_id"))
    .values(
        status=bindparam("status"),
        updated_at=bindparam("updated_at"),
        **{name: _kept_unless_given(name) for name in ("broker_order_id", "filled_qty",
                                                        "avg_price")},
    )
)  # fmt: skip


_ACCOUNT = select(runs.c.account_id).where(runs.c.run_id == bindparam("run_id"))
_STOPPING = select(
    exists().where(cancel_requests.c.run_id == bindparam("run_id")).label("cancel_requested"),
    halted(_ACCOUNT.scalar_subquery()).label("halted"),
)


class IntentWrites:
    """The statements of an intent-update batch, compiled once for ``dialect``; ``fence`` is
    the fenced lease renewal (one row changed, or ConcurrentModification)."""

    def __init__(self, dialect: Dialect) -> None:
        self.fence = DriverStatement(FENCE, dialect)
        self.heads = DriverStatement(_HEADS, dialect)
        self.update = DriverStatement(_UPDATE, dialect)
        self.insert_event = DriverStatement(insert(intent_events), dialect)
        self.stopping = DriverStatement(_STOPPING, dialect)

    def asked_to_stop(self, tx: DriverTransaction, run_id: str) -> bool:
        """Whether the run has a cancel request or its account a halt in force (one read)."""
        (row,) = tx.rows(self.stopping, {"run_id": run_id})
        return any(row.values())

    def record(self, tx: DriverTransaction, updates: Sequence[IntentUpdate], fence: Fence) -> None:
        """Fence, then apply each update to its intent and chain its history event."""
        self.renew(tx, fence)
        found = tx.rows(self.heads, {"run_id": fence.run_id})
        heads = {row["client_order_id"]: row for row in found}
        for update_ in updates:
            head = heads.get(update_.client_order_id)
            if head is None or update_.run_id != fence.run_id:
                raise RunNotFound(f"no intent {update_.client_order_id}", run_id=update_.run_id)
            event = chained_event(head, (head["n"], head["hash"] or ""), update_)
            values = update_.model_dump(exclude={"run_id", "client_order_id"})
            tx.execute(self.update, values | {"b_client_order_id": update_.client_order_id})
            tx.execute(self.insert_event, event)
            heads[update_.client_order_id] = head | {"n": event["n"], "hash": event["hash"]}

    def renew(self, tx: DriverTransaction, fence: Fence) -> None:
        """``fenced`` at the DB-API level, in ``tx``."""
        if tx.execute(self.fence, _fence_params(fence)) != 1:
            raise _moved_on(fence)
