"""The reference verifier of docs/audit-integrity.md: standard library plus `cryptography`.

It imports nothing of tradefsm: it is written from the documented canonical forms alone, and
the tests run it against real run databases and digests, beside tradefsm's own verifier.

    python docs/reference_verifier.py RUN.db [--digests DIR --public-key FILE ...]

prints one line per problem and exits 0 (none) or 8.
"""
# ruff: noqa: PLR0912, PLR0915  (verify_run reads top to bottom, as the page explains it)

import base64
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

ZERO = "0" * 64
LEDGER_FIELDS = (
    "accepted",
    "actor",
    "attempt",
    "causation_id",
    "correlation_id",
    "duration_ms",
    "error_message",
    "error_type",
    "event",
    "guards",
    "occurred_at",
    "run_id",
    "seq",
    "source",
    "target",
)
IDENTITY_FIELDS = (
    "account_id",
    "as_of",
    "correlation_id",
    "created_at",
    "definition_hash",
    "idempotency_key",
    "mode",
    "params",
    "parent_run_id",
    "run_id",
)
INTENT_FIELDS = (
    "client_order_id",
    "position",
    "symbol",
    "side",
    "qty",
    "reference_price",
    "run_id",
)
EVENT_FIELDS = ("n", "status", "broker_order_id", "filled_qty", "avg_price", "recorded_at")
REQUEST_FIELDS = ("run_id", "n", "actor", "reason", "process", "requested_at")
BROKER_FIELDS = ("broker_order_id", "filled_qty", "avg_price")
TOMBSTONE_FIELDS = (
    "seq",
    "run_id",
    "head_seq",
    "head_hash",
    "bundle_hash",
    "actor",
    "reason",
    "process",
    "archived_at",
)


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc(stored):  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC
    return stored.replace(" ", "T") + "Z"


def chained(prev, body):
    return sha256(prev + "\n" + canonical(body))


def verify_run(path, run_id):
    """The problems found in one run (an empty list: it verifies)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    run = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    rows = db.execute("SELECT * FROM ledger WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    if run is None:
        return ["the run row is gone"]
    problems, prev, commits = [], ZERO, {}
    newest = rows[0]["scheme"] if rows else 1
    for expected, row in enumerate(rows, start=1):
        body = {name: row[name] for name in LEDGER_FIELDS}
        body["accepted"] = bool(body["accepted"])
        body["guards"] = json.loads(body["guards"])
        body["occurred_at"] = utc(body["occurred_at"])
        if row["scheme"] != 1:
            body["commits"] = commits[row["seq"]] = json.loads(row["commits"])
            body["scheme"] = row["scheme"]
        if row["scheme"] >= 4:  # which process committed the row
            body["process"] = row["process"]
        if row["seq"] != expected or row["prev_hash"] != prev or chained(prev, body) != row["hash"]:
            problems.append(f"ledger row {row['seq']}")
        if row["scheme"] < newest:  # a run never goes back to an older scheme
            problems.append(f"ledger row {row['seq']} scheme")
        prev, newest = row["hash"], max(newest, row["scheme"])
    replaced = "SELECT 1 FROM ledger WHERE scheme > ? AND occurred_at < ? LIMIT 1"
    if rows and db.execute(replaced, (rows[0]["scheme"], rows[0]["occurred_at"])).fetchone():
        problems.append("ledger row 1 scheme")  # started after a newer scheme was in use
    if prev != run["head_hash"] or run["version"] != len(rows):
        problems.append("the run row does not end where its ledger ends")
    if rows[0]["scheme"] != 1 and run["updated_at"] != rows[-1]["occurred_at"]:
        problems.append("updated_at")
    deadlines = [
        g["inputs"]["deadline_at"]
        for row in rows
        for g in json.loads(row["guards"])
        if g["name"] == "deadline" and g["passed"]
    ]
    stored = utc(run["deadline_at"]) if run["deadline_at"] else ""
    claimed = len(rows) == 1 and deadlines == [""]  # queued, claimed, not moved yet
    if deadlines and deadlines[-1] != stored and not claimed:
        problems.append("deadline")
    if rows:  # its state is where the ledger ends; done and failed are also its status
        state = rows[-1]["target"] if rows[-1]["accepted"] else rows[-1]["source"]
        final = state if state in ("done", "failed") else None
        if (
            run["state"] != state
            or run["status"] != (final or run["status"])
            or (not final and run["status"] in ("done", "failed"))
        ):
            problems.append("the run row's state or status is not where its ledger ends")
    ended = run["status"] in ("done", "failed") and rows and rows[-1]["scheme"] >= 3
    if ended and "intents" not in commits[rows[-1]["seq"]]:
        problems.append(f"orders not committed at seq {rows[-1]['seq']}")
    identity = {name: run[name] for name in IDENTITY_FIELDS}
    pins = [c for c in commits.values() if "definition_from" in c]  # `runs migrate` rows
    for n in range(1, len(pins)):
        if pins[n]["definition_from"] != pins[n - 1]["definition_to"]:
            problems.append("migration chain")
    if pins:  # the run started under the first migration's old definition
        identity["definition_hash"] = pins[0]["definition_from"]
        if run["definition_hash"] != pins[-1]["definition_to"]:
            problems.append("definition")
    identity["created_at"] = utc(run["created_at"])
    identity["params"] = json.loads(run["params"])
    if commits.get(1, {}).get("identity") != sha256(canonical(identity)):
        problems.append("identity")
    stored = set()
    for cp in db.execute("SELECT * FROM checkpoints WHERE run_id = ?", (run_id,)):
        stored.add(cp["seq"])
        body = {
            "output": json.loads(cp["output"]),
            "schema_version": cp["schema_version"],
            "state": cp["state"],
        }
        if commits.get(cp["seq"], {}).get("checkpoint") != sha256(canonical(body)):
            problems.append(f"checkpoint {cp['seq']}")
    for seq, digests in commits.items():
        if "checkpoint" in digests and seq not in stored:
            problems.append(f"checkpoint {seq} missing")
    heads = []
    intents = "SELECT * FROM order_intents WHERE run_id = ? ORDER BY position"
    for intent in db.execute(intents, (run_id,)).fetchall():
        event_prev, last, coid = ZERO, 0, intent["client_order_id"]
        latest = dict.fromkeys(("status", "updated_at", *BROKER_FIELDS))
        events = "SELECT * FROM intent_events WHERE client_order_id = ? ORDER BY n"
        for event in db.execute(events, (coid,)):
            body = {name: intent[name] for name in INTENT_FIELDS}
            body |= {name: event[name] for name in EVENT_FIELDS}
            body["recorded_at"] = utc(event["recorded_at"])
            if event["prev_hash"] != event_prev or chained(event_prev, body) != event["hash"]:
                problems.append(f"order {coid} event {event['n']}")
            event_prev, last = event["hash"], event["n"]
            latest |= {"status": event["status"], "updated_at": event["recorded_at"]}
            latest |= {name: event[name] for name in BROKER_FIELDS if event[name] is not None}
        if last == 0:
            problems.append(f"order {coid} has no history")
        if any(latest[name] != intent[name] for name in latest):  # the row is the latest view
            problems.append(f"order {coid} differs from its history")
        heads.append([coid, last, event_prev])
    request_prev = ZERO
    requests = "SELECT * FROM cancel_requests WHERE run_id = ? ORDER BY n"
    for n, request in enumerate(db.execute(requests, (run_id,)), start=1):
        body = {name: request[name] for name in REQUEST_FIELDS}
        body["requested_at"] = utc(body["requested_at"])
        linked = request["n"] == n and request["prev_hash"] == request_prev
        if not linked or chained(request_prev, body) != request["hash"]:
            problems.append(f"cancel request {n}")
        request_prev = request["hash"]
    for seq, digests in commits.items():
        if digests.get("cancel_requests", request_prev) != request_prev:
            problems.append(f"cancel requests committed at seq {seq}")
        if "intents" in digests and digests["intents"] != sha256(canonical(heads)):
            problems.append(f"orders committed at seq {seq}")
        if "outcome" in digests:
            outcome = {
                name: json.loads(run[name]) if run[name] else None for name in ("failure", "result")
            }
            stored_null = "null" in (run["failure"], run["result"])  # none is SQL NULL
            if digests["outcome"] != sha256(canonical(outcome)) or stored_null:
                problems.append("outcome")
    definition = db.execute(
        "SELECT canonical FROM definitions WHERE definition_hash = ?", (run["definition_hash"],)
    ).fetchone()
    if (
        not definition
        or sha256(canonical(json.loads(definition["canonical"]))) != run["definition_hash"]
    ):
        problems.append("definition")
    return problems


def jcs(value):
    """RFC 8785 text of a digest body: canonical() is the same for ASCII keys, integers below
    2**53 and strings; anything else is refused rather than guessed."""

    def check(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return
        if isinstance(v, int):
            if abs(v) >= 2**53:
                raise ValueError("an integer beyond 2**53")
        elif isinstance(v, list):
            for item in v:
                check(item)
        elif isinstance(v, dict):
            for key, item in v.items():
                if not key.isascii():
                    raise ValueError("a non-ASCII key")
                check(item)
        else:
            raise ValueError(f"a {type(v).__name__}")

    check(value)
    return canonical(value)


def key_id(public_key):
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sha256(raw.hex())[:16]


def leaf_hash(run_id, seq, head):
    return hashlib.sha256(b"\x00" + canonical([run_id, seq, head]).encode("utf-8")).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):  # RFC 9162 section 2.1.1, as written there
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(*leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def verify_inclusion(leaf, index, size, path, root_hex):  # RFC 9162 section 2.1.3.2
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(*leaf)
    for step in path:
        p = bytes.fromhex(step)
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root_hex


def verify_digest_file(path, public_key_pem):
    """The digest's body if its hash and signature verify; raises InvalidSignature if forged."""
    with open(path, encoding="utf-8") as file:
        document = json.load(file)
    body = {k: v for k, v in document.items() if k not in ("digest_hash", "signature")}
    text = canonical(body) if body.get("version") == 1 else jcs(body)
    load_pem_public_key(public_key_pem).verify(
        base64.b64decode(document["signature"]), text.encode("utf-8")
    )
    assert sha256(text) == document["digest_hash"], "digest hash"
    return body | {"digest_hash": document["digest_hash"], "signature": document["signature"]}


def verify_digests(folder, public_key_pems):
    """Problems of a digest folder, the newest head the valid digests sealed per run, the
    newest valid digest (or None) and each valid digest's hash by n. A digest that does not
    verify is used for nothing else."""
    keys = {key_id(k): k for k in map(load_pem_public_key, public_key_pems)}
    problems, heads, newest, valid = [], {}, None, {}
    for path in sorted(Path(folder).glob("digest-*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            pem = keys[body["key_id"]].public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            body = verify_digest_file(path, pem)
        except Exception:  # any failure: the digest is not valid
            problems.append(f"digest file {path.name} signature")
            continue
        signed = ("digest_hash", "n", "signature")
        linked = None if newest is None else {k: newest[k] for k in signed}
        if body["n"] != (newest["n"] + 1 if newest else 1) or body["previous"] != linked:
            problems.append(f"digest {body['n']} chain")
        for run_id, seq, head in body["runs"]:
            heads[run_id] = (seq, head)
        newest, valid[body["n"]] = body, body["digest_hash"]
    if newest is None:
        problems.append("no valid digest")
    elif newest["version"] >= 2:
        leaves = [(r, s, h) for r, (s, h) in sorted(heads.items())]
        if merkle_root(leaves).hex() != newest["root"] or len(leaves) != newest["runs_total"]:
            problems.append(f"digest {newest['n']} root")
    return problems, heads, newest, valid


def verify_tombstones(path):
    """Problems of the tombstones chain, each archived run's head and each row's hash."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    problems, prev, archived, hashes = [], ZERO, {}, {}
    for n, row in enumerate(db.execute("SELECT * FROM tombstones ORDER BY seq"), start=1):
        body = {k: row[k] for k in TOMBSTONE_FIELDS} | {"archived_at": utc(row["archived_at"])}
        if row["seq"] != n or row["prev_hash"] != prev or chained(prev, body) != row["hash"]:
            problems.append(f"run {row['run_id']}: tombstone {n} does not verify")
        prev, hashes[row["seq"]] = row["hash"], row["hash"]
        archived[row["run_id"]] = (row["head_seq"], row["head_hash"])
    return problems, archived, hashes


def verify_database(path, digest_folder=None, public_key_pems=()):
    """Problems of every run of an SQLite run database; with digests, what they sealed too."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    created = dict(db.execute("SELECT run_id, created_at FROM runs"))
    run_ids = set(created) | {r for (r,) in db.execute("SELECT DISTINCT run_id FROM ledger")}
    problems = [f"run {r}: {p}" for r in sorted(run_ids) for p in verify_run(path, r)]
    found, archived, tombstones = verify_tombstones(path)
    problems += found
    if digest_folder is None:
        return problems
    found, heads, newest, valid = verify_digests(digest_folder, public_key_pems)
    problems += found
    signed = (newest or {}).get("tombstones")
    if signed and tombstones.get(signed[0]) != signed[1]:
        problems.append(f"tombstone {signed[0]}: signed by the newest digest, not as stored")
    stored = dict(db.execute("SELECT n, digest_hash FROM digests"))
    for n in sorted(stored.keys() | valid.keys()):
        if stored.get(n) != valid.get(n):
            problems.append(f"digest {n}: the database and the valid files disagree")
    for run_id, (seq, head) in sorted(heads.items()):
        row = db.execute("SELECT hash FROM ledger WHERE run_id = ? AND seq = ?", (run_id, seq))
        at = row.fetchone()
        if run_id not in created and archived.get(run_id) != (seq, head):
            problems.append(f"run {run_id}: sealed, but the run is gone without its tombstone")
        elif run_id not in created:
            continue  # archived: its tombstone names the sealed head
        elif at is None or at[0] != head:
            problems.append(f"run {run_id}: sealed head at seq {seq} differs")
    if (
        newest is not None
        and newest["version"] >= 2
        and not any(p.endswith(" root") for p in found)
    ):
        older = {r for r, at in created.items() if utc(at) < newest["created_at"]}
        for run_id in sorted(older - heads.keys()):
            problems.append(f"run {run_id}: created before the newest digest, in no digest")
        present = created.keys() | archived.keys()
        if len(older - heads.keys()) + len(heads.keys() & present) != newest["runs_total"]:
            problems.append("run count")
    return problems


def main(argv):
    path, folder, pems = argv[0], None, []
    options = iter(argv[1:])
    for option in options:
        if option == "--digests":
            folder = next(options)
        elif option == "--public-key":
            pems.append(Path(next(options)).read_bytes())
    problems = verify_database(path, folder, pems)
    for problem in problems:
        print(problem)
    return 8 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
