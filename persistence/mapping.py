"""Rows ↔ records. Records are validated on the way out, so a bad row cannot pass silently."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import RowMapping

from fsm.pluginrecords import OrderIntent
from fsm.records import Checkpoint, EncodedDocuments, LedgerEntry, RunRecord, StoredIntent
from persistence.hotpath import JsonText

RUN_COLUMNS = (
    "run_id", "correlation_id", "idempotency_key", "account_id", "mode", "as_of", "state",
    "status", "version", "parent_run_id", "definition_hash", "params", "result", "failure",
    "head_hash", "created_at", "updated_at", "lease_owner", "lease_expires_at", "deadline_at",
)  # fmt: skip


def fields_of(record: BaseModel) -> dict[str, Any]:
    """A record's fields as they are (nested models left as models): a copy of the instance
    dictionary, where pydantic keeps them; ``dict(record)`` costs fifty times as much."""
    return record.__dict__.copy()


def run_row(run: RunRecord) -> dict[str, Any]:
    row = run.model_dump(mode="python")
    row["params"] = run.model_dump(mode="json")["params"]
    row["mode"], row["status"] = run.mode.value, run.status.value
    return row


def run_move(run: RunRecord) -> dict[str, Any]:
    """The columns a transition changes on the run row."""
    return {
        "state": run.state,
        "status": run.status.value,
        "version": run.version,
        "head_hash": run.head_hash,
        "updated_at": run.updated_at,
        "lease_expires_at": run.lease_expires_at,
        "deadline_at": run.deadline_at,
        "result": run.result,
        "failure": run.failure,
    }


def run_record(row: RowMapping) -> RunRecord:
    return RunRecord.model_validate({c: row[c] for c in RUN_COLUMNS})


def ledger_row(entry: LedgerEntry, documents: EncodedDocuments | None = None) -> dict[str, Any]:
    row = fields_of(entry)
    if documents is None:
        row["guards"] = [g.model_dump(mode="json") for g in entry.guards]
    else:  # as the ledger hashed them
        row["guards"], row["commits"] = JsonText(documents.guards), JsonText(documents.commits)
    return row


def ledger_entry(row: Mapping[Any, Any]) -> LedgerEntry:
    values = dict(row)
    values["commits"] = values["commits"] or {}  # NULL on legacy rows
    return LedgerEntry.model_validate(values)


def checkpoint_row(
    checkpoint: Checkpoint, recorded_at: datetime, documents: EncodedDocuments | None = None
) -> dict[str, Any]:
    """The row of ``checkpoint``, stored at ``recorded_at``: its ledger row's occurred_at."""
    row = fields_of(checkpoint) | {"recorded_at": recorded_at}
    if documents is not None and documents.output is not None:
        row["output"] = JsonText(documents.output)
    return row


def checkpoint_record(row: RowMapping) -> Checkpoint:
    return Checkpoint.model_validate({k: v for k, v in row.items() if k != "recorded_at"})


def intent_row(stored: StoredIntent, position: int) -> dict[str, Any]:
    row = stored.model_dump(mode="python", exclude={"intent"})
    row.update(stored.intent.model_dump(mode="python"))
    row["side"] = stored.intent.side.value
    row["position"] = position
    return row


def intent_record(row: RowMapping) -> StoredIntent:
    intent = OrderIntent.model_validate(
        {k: row[k] for k in ("client_order_id", "symbol", "side", "qty", "reference_price")}
    )
    return StoredIntent.model_validate(
        {
            "run_id": row["run_id"],
            "intent": intent,
            **{
                k: row[k]
                for k in ("status", "broker_order_id", "filled_qty", "avg_price", "updated_at")
            },
        }
    )
