"""The per-run hash chain of ledger rows.

Canonical form of a row: the fields in ``HASHED_FIELDS`` as JSON with sorted keys, no spaces,
UTF-8, Decimal as string and timestamps as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; guard
decisions as objects with ``name``, ``passed``, ``reason`` and ``inputs``. Then
``hash = sha256(prev_hash + "\\n" + canonical_json)``, hex. The first row's ``prev_hash`` is
``GENESIS_HASH``; the run row keeps the hash of the last one (the head).
"""

from __future__ import annotations

import hashlib
import json.encoder
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fsm.definition import canonical_json
from fsm.records import GuardDecision, LedgerEntry

GENESIS_HASH = "0" * 64
# The string encoder json.dumps uses with ensure_ascii=False (C-accelerated where available).
_encode_string = json.encoder.encode_basestring
HASHED_FIELDS = (
    "run_id", "seq", "event", "source", "target", "accepted", "guards", "actor",
    "correlation_id", "causation_id", "occurred_at", "duration_ms", "attempt", "error_type",
    "error_message",
)  # fmt: skip


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_body(values: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of a row, from a LedgerEntry's fields or a database row.

    ``occurred_at`` is a datetime, or already its canonical text (a verifier reading stored
    rows may produce that text directly).
    """
    body = {name: values[name] for name in HASHED_FIELDS}
    occurred = values["occurred_at"]
    body["occurred_at"] = occurred if isinstance(occurred, str) else utc_text(occurred)
    body["accepted"] = bool(values["accepted"])
    body["guards"] = _guards(values["guards"])
    return body


def _guards(guards: Iterable[Any]) -> list[Any]:
    return [g.model_dump(mode="json") if isinstance(g, GuardDecision) else g for g in guards]


def canonical_text(values: Mapping[str, Any]) -> str:
    """``canonical_json(canonical_body(values))``; guards may already be canonical JSON text.

    The run database stores JSON in canonical form, so a verifier reading it can hash the
    stored guards text as it is; the row is then written out field by field in sorted-key
    order, which is what ``canonical_json`` produces, without sorting or decoding anything.
    """
    guards = values["guards"]
    if not isinstance(guards, str):
        return canonical_json(canonical_body(values))
    occurred = values["occurred_at"]
    occurred_text = occurred if isinstance(occurred, str) else utc_text(occurred)
    return (
        f'{{"accepted":{"true" if values["accepted"] else "false"},'
        f'"actor":{_text(values["actor"])},"attempt":{int(values["attempt"])},'
        f'"causation_id":{_text(values["causation_id"])},'
        f'"correlation_id":{_text(values["correlation_id"])},'
        f'"duration_ms":{int(values["duration_ms"])},'
        f'"error_message":{_text(values["error_message"])},'
        f'"error_type":{_text(values["error_type"])},"event":{_text(values["event"])},'
        f'"guards":{guards},"occurred_at":{_text(occurred_text)},'
        f'"run_id":{_text(values["run_id"])},"seq":{int(values["seq"])},'
        f'"source":{_text(values["source"])},"target":{_text(values["target"])}}}'
    )


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_text(values)}".encode()).hexdigest()


def seal(prev_hash: str, **fields: Any) -> LedgerEntry:
    """Build a ledger row chained onto ``prev_hash``."""
    fields.setdefault("guards", ())
    fields.setdefault("duration_ms", 0)
    fields.setdefault("attempt", 1)
    fields.setdefault("error_type", None)
    fields.setdefault("error_message", None)
    return LedgerEntry(prev_hash=prev_hash, hash=entry_hash(prev_hash, fields), **fields)


def first_broken_link(rows: Iterable[Mapping[str, Any]], head: str | None = None) -> int | None:
    """The seq of the first row that was edited, deleted, inserted or reordered, else None.

    ``rows`` are in stored order. With ``head`` (the run row's head hash) rows appended after
    the head, and a deleted tail, are found too.
    """
    prev, expected = GENESIS_HASH, 1
    seqs: dict[str, int] = {}
    for row in rows:
        seq = int(row["seq"])
        if seq > expected:
            return expected  # a row is missing here
        if seq != expected or row["prev_hash"] != prev or entry_hash(prev, row) != row["hash"]:
            return seq
        prev, expected = row["hash"], expected + 1
        seqs[prev] = seq
    if head is None or head == prev:
        return None
    # The chain is valid but does not end at the run's head: rows were appended after the
    # head (the first of them is named), or the tail after it was deleted.
    return seqs[head] + 1 if head in seqs else expected


def first_broken_seq(entries: list[LedgerEntry]) -> int | None:
    return first_broken_link(entry.model_dump() for entry in entries)
