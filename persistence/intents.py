"""Order intents and their append-only history; each intent's events form a hash chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, insert, select

from fsm.commitments import INTENT_FIELDS, intent_event_hash
from fsm.ledger import GENESIS_HASH
from fsm.records import IntentEvent, IntentUpdate, StoredIntent
from persistence import mapping
from persistence.tables import intent_events, order_intents

INTENT_COLUMNS = [order_intents.c[name] for name in INTENT_FIELDS]


def chained_event(
    intent: dict[str, Any], prev: tuple[int, str], update_: IntentUpdate
) -> dict[str, Any]:
    """The history row of ``update_``, chained onto the intent's event ``prev`` (n, hash)."""
    event = update_.model_dump(exclude={"updated_at"}) | {
        "n": prev[0] + 1, "recorded_at": update_.updated_at, "prev_hash": prev[1],
    }  # fmt: skip
    return event | {"hash": intent_event_hash(prev[1], intent, event)}


def save(conn: Connection, intents: Sequence[StoredIntent]) -> None:
    """Insert new intents with their first history event."""
    rows = [mapping.intent_row(i, n) for n, i in enumerate(intents)]
    events = [
        chained_event(row, (0, GENESIS_HASH), IntentUpdate(
            run_id=i.run_id, client_order_id=i.intent.client_order_id, status=i.status,
            updated_at=i.updated_at))
        for row, i in zip(rows, intents, strict=True)
    ]  # fmt: skip
    if rows:
        conn.execute(insert(order_intents), rows)
        conn.execute(insert(intent_events), events)


def recorded(update_: IntentUpdate) -> Select[Any]:
    """The history event ``update_`` wrote, if it was written."""
    return select(intent_events.c.n).where(
        intent_events.c.run_id == update_.run_id,
        intent_events.c.client_order_id == update_.client_order_id,
        intent_events.c.status == update_.status,
        intent_events.c.recorded_at == update_.updated_at,
    )


def events(conn: Connection, run_id: str) -> list[IntentEvent]:
    stmt = (
        select(intent_events)
        .where(intent_events.c.run_id == run_id)
        .order_by(intent_events.c.client_order_id, intent_events.c.n)
    )
    return [IntentEvent.model_validate(dict(r)) for r in conn.execute(stmt).mappings()]


def heads(conn: Connection, run_id: str) -> list[tuple[str, int, str]]:
    """Each intent's last event (client_order_id, n, hash), in plan order."""
    stmt = (
        select(order_intents.c.client_order_id, intent_events.c.n, intent_events.c.hash)
        .join(intent_events, intent_events.c.client_order_id == order_intents.c.client_order_id)
        .where(order_intents.c.run_id == run_id)
        .order_by(order_intents.c.position, intent_events.c.n)
    )
    last: dict[str, tuple[str, int, str]] = {}
    for coid, n, hash_ in conn.execute(stmt):
        last[coid] = (coid, int(n), hash_ or "")
    return list(last.values())
