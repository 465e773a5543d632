"""The per-run hash chain of ledger rows.

Canonical form of a row: its fields except ``hash`` and ``prev_hash`` as JSON with sorted keys,
no spaces, Decimal as string and timestamps in UTC ISO-8601 with a ``Z``. Then
``hash = sha256(prev_hash + "\\n" + canonical_json)``. The first row's ``prev_hash`` is
``GENESIS_HASH``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fsm.definition import canonical_json
from fsm.records import LedgerEntry

GENESIS_HASH = "0" * 64


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def seal(prev_hash: str, **fields: Any) -> LedgerEntry:
    """Build a ledger row chained onto ``prev_hash``."""
    draft = LedgerEntry(prev_hash=prev_hash, hash="", **fields)
    return draft.model_copy(update={"hash": entry_hash(prev_hash, _body(draft))})


def _body(entry: LedgerEntry) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude={"hash", "prev_hash"})


def first_broken_seq(entries: list[LedgerEntry]) -> int | None:
    """The seq of the first row whose chain link or content does not verify, else None."""
    prev = GENESIS_HASH
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq or entry.prev_hash != prev:
            return entry.seq
        if entry_hash(prev, _body(entry)) != entry.hash:
            return entry.seq
        prev = entry.hash
    return None
