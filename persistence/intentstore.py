"""The run store's order intents: saved and updated under the driver's fence, read back for
the steps, the ledger's commitments and the audit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Select, select

from fsm.records import Fence, IntentEvent, IntentUpdate, StoredIntent
from persistence import intents as stored_intents
from persistence import mapping
from persistence.errors import translate_errors
from persistence.hotpath import HeldConnections, driver_transaction
from persistence.intentwrites import IntentWrites, fenced
from persistence.ridethrough import RideThrough
from persistence.tables import order_intents


def found(engine: Engine, query: Select[Any]) -> bool:
    """Whether ``query`` finds a row: how a write that failed in flight learns it committed."""
    with translate_errors(), engine.connect() as conn:
        return conn.execute(query.limit(1)).first() is not None


class IntentStore:
    """A run's order intents in the SQL store. Writes are fenced (the run at the same version
    under the same owner, whose lease they renew) and ride through transient faults as the
    store's other driver writes do; so do the reads a step makes (``intent_heads``,
    ``intents``)."""

    engine: Engine
    ride: RideThrough
    _held: HeldConnections | None
    _intent_writes: IntentWrites

    def save_intents(self, intents: Sequence[StoredIntent], fence: Fence) -> None:
        def save() -> None:
            with translate_errors(fence.run_id), self.engine.begin() as conn:
                fenced(conn, fence)
                stored_intents.save(conn, intents)

        stored = select(order_intents.c.run_id).where(order_intents.c.run_id == fence.run_id)
        self.ride.write("order intents", save, lambda: found(self.engine, stored), fence.run_id)

    def update_intent(self, update_: IntentUpdate, fence: Fence) -> None:
        self.update_intents([update_], fence)

    def update_intents(self, updates: Sequence[IntentUpdate], fence: Fence) -> None:
        def record() -> None:
            with driver_transaction(self.engine, fence.run_id, self._held) as tx:
                self._intent_writes.record(tx, updates, fence)

        if updates:  # one transaction: the last update's event is there when all are
            stored = stored_intents.recorded(updates[-1])
            self.ride.write(
                "intent update", record, lambda: found(self.engine, stored), fence.run_id
            )

    def intent_heads(self, run_id: str) -> list[tuple[str, int, str]]:
        def read() -> list[tuple[str, int, str]]:
            with translate_errors(run_id), self.engine.connect() as conn:
                return stored_intents.heads(conn, run_id)

        return self.ride.call("intent read", read, run_id)

    def intent_events(self, run_id: str) -> list[IntentEvent]:
        with translate_errors(run_id), self.engine.connect() as conn:
            return stored_intents.events(conn, run_id)

    def intents(self, run_id: str) -> list[StoredIntent]:
        stmt = (
            select(order_intents)
            .where(order_intents.c.run_id == run_id)
            .order_by(order_intents.c.position)
        )

        def read() -> list[StoredIntent]:
            with translate_errors(run_id), self.engine.connect() as conn:
                return [mapping.intent_record(r) for r in conn.execute(stmt).mappings()]

        return self.ride.call("intent read", read, run_id)
