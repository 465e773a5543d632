"""Digests of the records a ledger row commits to, so the chain covers what a reviewer reads.

Each digest is SHA-256 (hex) of the canonical JSON (``fsm.canonical``) of an object:

- ``identity`` (first row of a run): ``account_id``, ``as_of`` (date), ``correlation_id``,
  ``created_at``, ``definition_hash``, ``idempotency_key``, ``mode``, ``params``,
  ``parent_run_id``, ``run_id``;
- ``checkpoint`` (the row that stored it): ``output``, ``schema_version``, ``state``;
- ``outcome`` (the row that ends the run): the run's ``failure`` and ``result`` summaries;
- ``intents`` (every row leaving ``executing`` and, from scheme 3, every row ending a run):
  the list of ``[client_order_id, n, hash]`` of each order intent's last history event, in
  plan order (an empty list for a run without orders).

Each order intent's history is a chain of its own: an event's hash is
``sha256(prev_hash + "\\n" + canonical_json(event))`` where the event object holds the intent
(``client_order_id``, ``position``, ``symbol``, ``side``, ``qty``, ``reference_price``,
``run_id``) and what the broker said (``n``, ``status``, ``broker_order_id``, ``filled_qty``,
``avg_price``, ``recorded_at``); the first event's ``prev_hash`` is ``GENESIS_HASH``.

A run's deadline (``runs.deadline_at``) is committed by a guard decision named ``deadline``
(passed, its input ``deadline_at`` the canonical time, empty for none) on the row that creates
the run, on the row after it (a queued run gets its deadline when a worker claims it) and on
every row that changes it (parking for approval, leaving the parked state).

Values may be given as Python values or, as a verifier reads them from the run database, as
canonical text (JSON documents, timestamps, decimals); both give the same digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fsm.canonical import encode_string, json_or_text, json_text, sha256_hex, utc_text
from fsm.records import GuardDecision

IDENTITY_FIELDS = (
    "account_id", "as_of", "correlation_id", "created_at", "definition_hash",
    "idempotency_key", "mode", "params", "parent_run_id", "run_id",
)  # fmt: skip
INTENT_FIELDS = ("client_order_id", "position", "symbol", "side", "qty", "reference_price",
                 "run_id")  # fmt: skip
DEADLINE_GUARD = "deadline"
EVENT_FIELDS = ("n", "status", "broker_order_id", "filled_qty", "avg_price", "recorded_at")
_NO_INTENTS = sha256_hex("[]")  # a run without orders: most runs


def text_of(value: Any) -> str | None:
    """The canonical text of a scalar: dates, times, decimals and enums as strings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(getattr(value, "value", value))


def scalar_json(value: Any) -> str:
    """``json_text(text_of(value))``: a scalar's canonical text as JSON, text in one call (the
    common case when a verifier reads values back)."""
    return encode_string(value) if type(value) is str else json_text(text_of(value))


def identity_digest(run: Mapping[str, Any]) -> str:
    """Digest of a run's identity; ``params`` may be canonical JSON text."""
    s = scalar_json
    return sha256_hex(
        f'{{"account_id":{s(run["account_id"])},"as_of":{s(run["as_of"])},'
        f'"correlation_id":{s(run["correlation_id"])},"created_at":{s(run["created_at"])},'
        f'"definition_hash":{s(run["definition_hash"])},'
        f'"idempotency_key":{s(run["idempotency_key"])},"mode":{s(run["mode"])},'
        f'"params":{json_or_text(run["params"])},"parent_run_id":{s(run["parent_run_id"])},'
        f'"run_id":{s(run["run_id"])}}}'
    )


def checkpoint_digest(state: str, schema_version: int, output: Any) -> str:
    """Digest of a step output; ``output`` may be its canonical JSON text."""
    return sha256_hex(
        f'{{"output":{json_or_text(output)},"schema_version":{int(schema_version)},'
        f'"state":{json_text(state)}}}'
    )


def outcome_digest(result: Any, failure: Any) -> str:
    """Digest of a finished run's summaries; either may be canonical JSON text or None."""
    return sha256_hex(f'{{"failure":{json_or_text(failure)},"result":{json_or_text(result)}}}')


def intent_event_hash(prev_hash: str, intent: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """Hash of one history event of an order intent, chained onto the intent's last event."""
    # canonical JSON of the intent's fields and the event's, written out in sorted-key order
    s = scalar_json
    body = (
        f'{{"avg_price":{s(event["avg_price"])},"broker_order_id":{s(event["broker_order_id"])},'
        f'"client_order_id":{s(intent["client_order_id"])},"filled_qty":{s(event["filled_qty"])},'
        f'"n":{int(event["n"])},"position":{int(intent["position"])},"qty":{s(intent["qty"])},'
        f'"recorded_at":{s(event["recorded_at"])},'
        f'"reference_price":{s(intent["reference_price"])},"run_id":{s(intent["run_id"])},'
        f'"side":{s(intent["side"])},"status":{s(event["status"])},'
        f'"symbol":{s(intent["symbol"])}}}'
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def intents_digest(heads: Iterable[tuple[str, int, str]]) -> str:
    """Digest of a run's order intents: each one's last event, in plan order.

    The canonical JSON of the list of ``[client_order_id, n, hash]`` is written out by hand,
    as the ledger row's is (verification computes one per run); a test compares the two.
    """
    items = ",".join(f"[{json_text(coid)},{int(n)},{json_text(head)}]" for coid, n, head in heads)
    return _NO_INTENTS if not items else sha256_hex(f"[{items}]")


def result_summary(event: str, output: Any) -> dict[str, Any]:
    """The result a run that ends ``done`` keeps (committed as part of its outcome)."""
    summary: dict[str, Any] = {"ended_by": event}
    if output is not None:
        summary["output"] = type(output).__name__
        for key in ("placed", "succeeded", "outcome"):
            if hasattr(output, key):
                summary[key] = str(getattr(output, key))
    return summary


def deadline_decision(at: datetime | None) -> GuardDecision:
    """The decision that commits a run's deadline (none: an empty input)."""
    reason = "deadline set" if at is not None else "no deadline"
    inputs = {"deadline_at": utc_text(at) if at is not None else ""}
    return GuardDecision(name=DEADLINE_GUARD, passed=True, reason=reason, inputs=inputs)


def committed_deadline(guards: Any) -> str | None:
    """The deadline a row's guards commit to ("" for none), None when they commit none;
    ``guards`` may be the canonical JSON text the run database stores."""
    if isinstance(guards, str):
        if f'"name":"{DEADLINE_GUARD}"' not in guards:
            return None  # the common case, without decoding the text
        guards = json.loads(guards)
    for guard in guards:
        fields = guard.model_dump() if isinstance(guard, GuardDecision) else guard
        if fields.get("name") == DEADLINE_GUARD:
            return str(fields.get("inputs", {}).get("deadline_at", ""))
    return None


def commits(row: Mapping[str, Any], name: str, digest: str | None = None) -> bool:
    """Whether a ledger row commits to a record ``name`` (with ``digest``: to that digest).

    Stored canonical JSON text is searched rather than decoded: its keys are plain names and
    its values 64 hex digits, so ``"name":"digest"`` can only match that entry.
    """
    value = row["commits"]
    if not value:
        return False
    if isinstance(value, str):
        return (f'"{name}":"{digest}"' if digest else f'"{name}":') in value
    return name in value if digest is None else value.get(name) == digest


def committing(rows: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """The rows that commit to a record ``name``: ``commits`` over many rows at once."""
    key = f'"{name}":'
    return [
        r for r in rows
        if (value := r["commits"]) and (key in value if isinstance(value, str) else name in value)
    ]  # fmt: skip
