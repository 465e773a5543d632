"""The per-run hash chain of ledger rows.

Canonical form of a row (scheme 2): a JSON object with the fields of ``HASHED_FIELDS``, keys
sorted, in the canonical form of ``fsm.canonical``; guard decisions as objects with ``name``,
``passed``, ``reason`` and ``inputs``; ``commits`` an object of SHA-256 digests of the records
the transition committed (``fsm.commitments``). Then
``hash = sha256(prev_hash + "\\n" + canonical_json)``, hex. The first row's ``prev_hash`` is
``GENESIS_HASH``; the run row keeps the hash of the last one (the head).

Rows written before scheme 2 (scheme 1, "legacy") hash the same fields without ``commits`` and
``scheme``; they commit to the transition only, and `audit verify` says so. Scheme 3 hashes
exactly as scheme 2; it marks rows whose run-ending row also commits to the run's order
intents (``commits.intents``, an empty set included), which `audit verify` then requires.
Scheme 4 adds ``process``, hashed like the other fields: which process committed the row — the
lease owner id ``host/pid/token`` of the engine that moved the run (``fsm.leases.owner_id``),
or for a row written outside any lease the process identity ``process:host/pid``. In the
canonical JSON it sits between ``occurred_at`` and ``run_id`` (sorted keys); rows of schemes 1
to 3 have no such key. A run's rows never go back to an older scheme.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from fsm.actors import actor_name
from fsm.canonical import canonical_json, encode_string, utc_text
from fsm.records import GuardDecision, LedgerEntry

GENESIS_HASH = "0" * 64
SCHEME = 4  # the scheme this tradefsm writes; 1 is the legacy scheme without commitments
LEGACY_SCHEME = 1
ENDING_COMMITS_INTENTS = 3  # from this scheme on, the row ending a run commits to its intents
HASHES_PROCESS = 4  # from this scheme on, a row names the process that committed it
_encode = encode_string  # a str as JSON, in C
HASHED_FIELDS = (
    "run_id", "seq", "event", "source", "target", "accepted", "guards", "actor",
    "correlation_id", "causation_id", "occurred_at", "duration_ms", "attempt", "error_type",
    "error_message", "commits", "scheme", "process",
)  # fmt: skip


def process_id() -> str:
    """This process, for a row it commits outside any lease: ``process:host/pid``."""
    return f"process:{socket.gethostname()}/{os.getpid()}"


def canonical_text(values: Mapping[str, Any]) -> str:
    """The canonical JSON of a row, from a LedgerEntry's fields or a stored row.

    ``occurred_at`` may be a datetime or its canonical text; ``guards`` and ``commits`` may be
    canonical JSON text as the run database stores it, so a verifier hashes them as stored.
    The row is written out field by field in sorted-key order, which is what
    ``canonical_json`` produces, without sorting or decoding anything (verification at scale
    spends most of its time here).
    """
    occurred = values["occurred_at"]
    occurred_text = occurred if isinstance(occurred, str) else utc_text(occurred)
    scheme = int(values["scheme"])
    legacy = scheme == LEGACY_SCHEME
    commits = ""
    if not legacy:
        commits = values["commits"]
        commits = f'"commits":{commits if type(commits) is str else canonical_json(commits)},'
    guards = values["guards"]
    if type(guards) is not str:
        guards = _guards(guards)
    scheme_field = "" if legacy else f'"scheme":{scheme},'
    process = ""
    if scheme >= HASHES_PROCESS:
        named = values["process"]
        process = f'"process":{"null" if named is None else _encode(named)},'
    causation, message, error, source, target = (
        values["causation_id"], values["error_message"], values["error_type"], values["source"],
        values["target"],
    )  # fmt: skip
    return (
        f'{{"accepted":{"true" if values["accepted"] else "false"},'
        f'"actor":{_encode(values["actor"])},"attempt":{int(values["attempt"])},'
        f'"causation_id":{"null" if causation is None else _encode(causation)},{commits}'
        f'"correlation_id":{_encode(values["correlation_id"])},'
        f'"duration_ms":{int(values["duration_ms"])},'
        f'"error_message":{"null" if message is None else _encode(message)},'
        f'"error_type":{"null" if error is None else _encode(error)},'
        f'"event":{_encode(values["event"])},'
        f'"guards":{guards},"occurred_at":{_encode(occurred_text)},{process}'
        f'"run_id":{_encode(values["run_id"])},{scheme_field}"seq":{int(values["seq"])},'
        f'"source":{"null" if source is None else _encode(source)},'
        f'"target":{"null" if target is None else _encode(target)}}}'
    )


def _guards(guards: Iterable[Any]) -> str:
    texts = (guard_text(g) if isinstance(g, GuardDecision) else canonical_json(g) for g in guards)
    return f"[{','.join(texts)}]"


def guard_text(g: GuardDecision) -> str:
    """The canonical JSON of one guard decision, written out in sorted-key order."""
    inputs = ",".join(f"{_encode(k)}:{_encode(v)}" for k, v in sorted(g.inputs.items()))
    return (
        f'{{"inputs":{{{inputs}}},"name":{_encode(g.name)},'
        f'"passed":{"true" if g.passed else "false"},"reason":{_encode(g.reason)}}}'
    )


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_text(values)}".encode()).hexdigest()


def seal(prev_hash: str, **fields: Any) -> LedgerEntry:
    """Build a ledger row of the current scheme chained onto ``prev_hash``."""
    return sealed(prev_hash, **fields)[0]


def sealed(prev_hash: str, **fields: Any) -> tuple[LedgerEntry, str, str]:
    """``seal``, with the canonical JSON of the row's guards and of its commits, as hashed."""
    fields.setdefault("guards", ())
    fields.setdefault("duration_ms", 0)
    fields.setdefault("attempt", 1)
    fields.setdefault("error_type", None)
    fields.setdefault("error_message", None)
    fields.setdefault("commits", {})
    fields.setdefault("process", process_id())
    fields["scheme"] = SCHEME
    fields["actor"] = actor_name(fields["actor"])  # every new row names someone allowed
    guards, commits = _guards(fields["guards"]), canonical_json(fields["commits"])
    digest = entry_hash(prev_hash, fields | {"guards": guards, "commits": commits})
    return LedgerEntry(prev_hash=prev_hash, hash=digest, **fields), guards, commits
