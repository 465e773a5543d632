"""The ids a run's events have, as docs/operations.md describes them, from the run's ledger and
orders: one per row, and before the row that completed execution one per order."""

from __future__ import annotations

from fsm.ports import RunStore


def expected_ids(store: RunStore, run_id: str) -> list[str]:
    orders = [i.intent.client_order_id for i in store.intents(run_id)]
    ids: list[str] = []
    for row in store.ledger(run_id):
        if row.event == "execution_completed" and row.accepted:
            ids += [f"{run_id}:{row.seq}:order:{order}" for order in orders]
        ids.append(f"{run_id}:{row.seq}")
    return ids
