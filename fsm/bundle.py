"""A self-verifying evidence bundle: one run's records, the signed digest that covers it and
the Merkle inclusion proof, in a folder an auditor checks offline (no database).

Files (JSON, UTF-8): ``manifest.json`` (format, version, run_id, key_id, digest file name),
``run.json`` (the runs row), ``ledger.json``, ``checkpoints.json``, ``intents.json`` (the
``order_intents`` rows), ``intent_events.json``, ``definition.json`` (``definition_hash``
and ``canonical``), ``proof.json`` (``leaf`` ``[run_id, seq, head_hash]``, ``index``,
``tree_size``, ``path``) and the digest file itself, as signed. Values are as the SQLite
run database stores them: JSON columns as canonical JSON text, times as canonical UTC text,
decimals as text. ``docs/audit-integrity.md`` documents the format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fsm import digests, merkle
from fsm.audit import Finding
from fsm.canonical import canonical_json, json_or_text, sha256_hex
from fsm.errors import InvalidConfiguration
from fsm.integrity import RunRecords, check_run
from fsm.intentchecks import IntentHistory
from fsm.keyfiles import key_id

FORMAT = "tradefsm-evidence-bundle"
VERSION = 1
MANIFEST = "manifest.json"
RECORDS = ("run.json", "ledger.json", "checkpoints.json", "intents.json", "intent_events.json")
OTHERS = ("definition.json", "proof.json")


@dataclass(frozen=True)
class Bundle:
    """What an export writes: the run's records, its definition, the covering digest and the
    Merkle proof of the run's head in it."""

    records: RunRecords
    definition: Mapping[str, Any]
    digest: Mapping[str, Any]
    proof: Mapping[str, Any]


def stored_text(value: Any) -> Any:
    """A value as the SQLite run database stores it (JSON documents as canonical text)."""
    if isinstance(value, dict | list):
        return canonical_json(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: stored_text(v) for k, v in row.items()} for row in rows]


def write(bundle: Bundle, folder: Path) -> list[Path]:
    """Write the bundle into ``folder`` (created; it must be new or empty)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidConfiguration(f"{folder} exists and is not an empty folder: name a new one")
    folder.mkdir(parents=True, exist_ok=True)
    records = bundle.records
    events = [
        {"client_order_id": intent.view["client_order_id"], **event}
        for intent in records.intents
        for event in intent.events
    ]
    n = int(bundle.digest["n"])
    contents: dict[str, Any] = {
        MANIFEST: {"format": FORMAT, "version": VERSION, "run_id": records.run_id,
                   "key_id": bundle.digest["key_id"], "digest": digests.file_name(n)},
        "run.json": _rows([records.run or {}])[0],
        "ledger.json": _rows(records.ledger),
        "checkpoints.json": _rows(records.checkpoints),
        "intents.json": _rows(i.view for i in records.intents),
        "intent_events.json": _rows(events),
        "definition.json": dict(bundle.definition),
        "proof.json": dict(bundle.proof),
        digests.file_name(n): dict(bundle.digest),
    }  # fmt: skip
    paths = []
    for name, content in contents.items():
        path = folder / name
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", "utf-8")
        paths.append(path)
    return paths


class _Unreadable(Exception):
    """A bundle file that is missing, not JSON, or not of its shape."""


def verify(folder: Path, public_keys: Iterable[Ed25519PublicKey]) -> list[Finding]:
    """Every problem of the bundle in ``folder`` (none: it is intact). A folder without a
    manifest is not a bundle (InvalidConfiguration)."""
    if not (folder / MANIFEST).is_file():
        raise InvalidConfiguration(f"{folder} is not an evidence bundle: no {MANIFEST}")
    try:
        manifest = _read(folder, MANIFEST, dict)
        name = str(manifest.get("digest"))
        if "/" in name or not name.startswith("digest-"):
            raise _Unreadable(f"{MANIFEST} names no digest file")
        objects = ("run.json", *OTHERS, name)
        files = {n: _read(folder, n, dict if n in objects else list) for n in (*RECORDS, *objects)}
    except _Unreadable as exc:
        return [Finding("bad_signature", None, str(exc), key=folder.name)]
    run_id = str(manifest.get("run_id"))
    findings = _digest_findings(manifest, files[name], name, public_keys)
    if findings:  # a digest that does not verify is used for nothing else
        return findings
    try:
        records = _records(run_id, files)
        leaf = _proven_leaf(run_id, files["proof.json"], files[name])
        found, _legacy = check_run(records, leaf)
    except (_Unreadable, *DECODE) as exc:
        return [Finding("unreadable", run_id, f"a bundle record cannot be checked: {exc}")]
    if leaf is None:
        found.append(Finding("unsealed", run_id, f"proof.json does not prove the run's head is "
                             f"in {name}"))  # fmt: skip
    return found + _definition_findings(run_id, records, files["definition.json"])


DECODE = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError)


def _read(folder: Path, name: str, kind: Any) -> Any:
    try:
        value = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _Unreadable(f"{name} is missing or not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise _Unreadable(f"{name} is not a JSON {'object' if kind is dict else 'list'}")
    return value


def _digest_findings(
    manifest: Mapping[str, Any], document: Mapping[str, Any], name: str,
    public_keys: Iterable[Ed25519PublicKey],
) -> list[Finding]:  # fmt: skip
    keys = {key_id(k): k for k in public_keys}
    body = {k: v for k, v in document.items() if k not in digests.SIGNED}
    try:
        hashed = sha256_hex(digests.signed_text(body)) == document.get("digest_hash")
    except (ValueError, RecursionError):
        hashed = False
    key = keys.get(str(body.get("key_id")))
    if (
        not hashed
        or key is None
        or not digests.signature_verifies(key, body, str(document.get("signature")))
        or not digests.well_formed(body)
        or body.get("version") == 1
    ):
        return [Finding("bad_signature", None, "the digest's signature or hash does not verify "
                        "with the given public key(s)", key=name)]  # fmt: skip
    if manifest.get("key_id") != body["key_id"] or name != digests.file_name(body["n"]):
        return [Finding("bad_signature", None, f"{MANIFEST} names another key or digest than "
                        "the signed one", key=MANIFEST)]  # fmt: skip
    return []


def _records(run_id: str, files: Mapping[str, Any]) -> RunRecords:
    events: dict[str, list[dict[str, Any]]] = {}
    for event in files["intent_events.json"]:
        events.setdefault(event["client_order_id"], []).append(event)
    intents = [
        IntentHistory(v, events.get(v["client_order_id"], [])) for v in files["intents.json"]
    ]
    run = files["run.json"]
    if not isinstance(run, dict) or run.get("run_id") != run_id:
        raise _Unreadable(f"run.json is not the run {run_id} the manifest names")
    return RunRecords(run_id, run, files["ledger.json"], files["checkpoints.json"], intents)


def _proven_leaf(
    run_id: str, proof: Mapping[str, Any], digest: Mapping[str, Any]
) -> tuple[int, str] | None:
    """The run's (seq, head) the digest signed, if the inclusion proof holds."""
    leaf = proof["leaf"]
    if not (isinstance(leaf, list) and len(leaf) == 3 and leaf[0] == run_id):
        return None
    ok = merkle.verify_inclusion(
        merkle.leaf_bytes(leaf[0], int(leaf[1]), str(leaf[2])), int(proof["index"]),
        int(digest["runs_total"]), [str(p) for p in proof["path"]], str(digest["root"]),
    )  # fmt: skip
    return (int(leaf[1]), str(leaf[2])) if ok else None


def _definition_findings(
    run_id: str, records: RunRecords, definition: Mapping[str, Any]
) -> list[Finding]:
    name = (records.run or {}).get("definition_hash")
    if (
        definition.get("definition_hash") == name
        and sha256_hex(json_or_text(definition.get("canonical"))) == name
    ):
        return []
    return [Finding("definition_changed", run_id, "definition.json does not hash to the run's "
                    "definition_hash", key="definition.json")]  # fmt: skip
