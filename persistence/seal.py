"""`audit seal` and anchored verification: signed digests of run heads, in SQL and in files."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, delete, func, insert, select

from fsm import digests
from fsm.audit import Finding, VerifyReport
from fsm.canonical import canonical_json, sha256_hex
from fsm.digests import Anchors
from fsm.errors import HistoryConflict, RunNotFound
from fsm.keyfiles import key_id
from fsm.merkle import root, sorted_leaves
from persistence import halts, retentionlog
from persistence.dialects import upsert
from persistence.errors import translate_errors
from persistence.flushing import flush_history
from persistence.hotpath import DriverStatement
from persistence.lenient import DECODE_ERRORS, canonical_time, fetch
from persistence.tables import digests as digest_table
from persistence.tables import runs, sealed_heads
from persistence.verify import verify

Heads = dict[str, tuple[int, str]]


def seal(engine: Engine, key: Ed25519PrivateKey, now: datetime, folder: Path) -> dict[str, Any]:
    """Sign a digest of every run changed since the last one; store it and write its file.

    What the last digest covered comes from the signed digests (``covered``), never from the
    ``sealed_heads`` cache alone. A run is sealed again only when its ledger grew: a run whose
    head was rewritten or cut back keeps its signed head, so `verify --digests` still sees it.
    The file is written before the commit and removed if the commit fails, so the database
    never holds a digest without its file.
    """
    path: Path | None = None
    try:
        with translate_errors(), engine.begin() as conn:
            last = last_document(conn)
            _authenticate(last, key, folder)
            before, cache_ok = covered(conn, last)
            stored = conn.execute(select(runs.c.run_id, runs.c.version, runs.c.head_hash))
            changed = [
                (run_id, int(version), head)
                for run_id, version, head in stored
                if run_id not in before or before[run_id][0] < version
            ]
            flush_history(conn)  # the heads it signs are on disk before its file is written
            heads = before | {run_id: (seq, head) for run_id, seq, head in changed}
            n = int(last["n"]) + 1 if last else 1
            document = digests.sign(
                key, n, now, last, changed, heads, halts.head(conn), retentionlog.heads(conn)
            )
            path = digests.write(document, folder)
            conn.execute(insert(digest_table), [{
                "n": n, "digest_hash": document["digest_hash"], "key_id": document["key_id"],
                "created_at": now, "document": document,
            }])  # fmt: skip
            _remember(conn, changed if cache_ok else list(_leaves(heads)), cache_ok)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return document


def last_document(conn: Connection) -> dict[str, Any] | None:
    stmt = select(digest_table.c.document).order_by(digest_table.c.n.desc()).limit(1)
    last: dict[str, Any] | None = conn.execute(stmt).scalar()
    return last


def _authenticate(last: Mapping[str, Any] | None, key: Ed25519PrivateKey, folder: Path) -> None:
    """The last digest must verify with the signing key, or (signed by an earlier key, after a
    rotation) be the one in its write-once file."""
    if last is None:
        return
    body = {k: v for k, v in last.items() if k not in digests.SIGNED}
    public = key.public_key()
    own = last.get("key_id") == key_id(public)
    hashed = sha256_hex(digests.signed_text(body)) == last.get("digest_hash")
    if hashed and own and digests.signature_verifies(public, body, str(last.get("signature"))):
        return
    if hashed and not own and digests.file_hash(folder, int(last["n"])) == last["digest_hash"]:
        return
    raise HistoryConflict(
        f"digest {last.get('n')} in the database does not verify with the signing key nor "
        f"match its file in {folder}; refusing to seal (`audit verify --digests` names it)"
    )


def covered(conn: Connection, last: Mapping[str, Any] | None) -> tuple[Heads, bool]:
    """The head of every run the digests up to ``last`` sealed, and whether the
    ``sealed_heads`` cache holds exactly them (its Merkle root is the signed one)."""
    cache: Heads = {r: (int(s), h) for r, s, h in conn.execute(select(sealed_heads))}
    if last is None:
        return {}, not cache
    if last["version"] >= 2 and root(sorted_leaves(cache)) == last["root"]:
        return cache, True
    heads: Heads = {}
    expected: Mapping[str, Any] | None = None
    stmt = select(digest_table.c.document).order_by(digest_table.c.n.desc())
    for document in conn.execute(stmt).scalars():  # newest first, each named by the next
        body = {k: v for k, v in document.items() if k not in digests.SIGNED}
        hashed = sha256_hex(digests.signed_text(body))
        if expected is not None and expected != {k: document[k] for k in ("n", *digests.SIGNED)}:
            raise HistoryConflict(f"digest {document['n']} in the database is not the one the "
                                  "next digest names; refusing to seal")  # fmt: skip
        if hashed != document["digest_hash"]:
            raise HistoryConflict(f"digest {document['n']} in the database does not hash to "
                                  "its digest_hash; refusing to seal")  # fmt: skip
        for run_id, seq, head in document["runs"]:
            heads.setdefault(run_id, (int(seq), head))  # the newest seal of each run
        expected = document["previous"]
    if last["version"] >= 2 and root(sorted_leaves(heads)) != last["root"]:
        raise HistoryConflict(f"the digests in the database do not add up to digest "
                              f"{last['n']}'s Merkle root; refusing to seal")  # fmt: skip
    return heads, False


def _leaves(heads: Heads) -> Iterator[tuple[str, int, str]]:
    return ((run_id, seq, head) for run_id, (seq, head) in heads.items())


def _remember(conn: Connection, changed: list[tuple[str, int, str]], cache_ok: bool) -> None:
    """Update the ``sealed_heads`` cache; rewrite it whole when it did not match."""
    if not cache_ok:
        conn.execute(delete(sealed_heads))
    if not changed:
        return
    insert = upsert(conn.dialect, sealed_heads)
    stmt = insert.on_conflict_do_update(
        index_elements=[sealed_heads.c.run_id],
        set_={"seq": insert.excluded.seq, "head_hash": insert.excluded.head_hash},
    )
    statement = DriverStatement(stmt, conn.dialect)  # many rows: straight to the driver
    rows: list[Any] = [statement.params({"run_id": r, "seq": s, "head_hash": h})
                       for r, s, h in changed]  # fmt: skip
    conn.connection.cursor().executemany(statement.sql, rows)


def verify_anchored(engine: Engine, anchors: Anchors, run_id: str | None = None) -> VerifyReport:
    """Verify the database against the signed digest files as well as its own chains."""
    with translate_errors(), engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
    statement = DriverStatement(select(digest_table), engine.dialect)
    stored = {
        int(row[0]): row[1] if _consistent(*row) else "differs from its document"
        for row in fetch(engine, statement, {})
    }  # read leniently: a value that cannot be decoded makes its row differ, never a traceback
    check = digests.check_files(anchors.folder, anchors.public_keys, stored)
    sealed = check.sealed if run_id is None else {
        k: v for k, v in check.sealed.items() if k == run_id
    }  # fmt: skip
    try:
        report = verify(engine, run_id, sealed=sealed)
    except RunNotFound:
        if run_id not in sealed:
            raise
        report = VerifyReport(runs=0, rows=0, findings=[Finding(
            "run_deleted", run_id, "a signed digest sealed this run; it is gone")])  # fmt: skip
    findings = check.findings + _membership(engine, check, run_id, set(report.archived))
    if run_id is None:
        findings += halts.anchored_findings(engine, check.halts)
        findings += retentionlog.anchored_findings(engine, check.chains, check.sealed)
    if check.covered_at is None and run_id is None and int(total) < check.runs_total:
        counted = f"the last digest counted {check.runs_total} runs; the database has {total}"
        findings = [*findings, Finding("run_deleted", None, counted)]
    run_seal = check.seal_of(run_id, report.rows) if run_id is not None else None
    return replace(report, findings=report.findings + findings, anchored=True,
                   digests=check.count, seal=run_seal)  # fmt: skip


def _membership(engine: Engine, check: digests.DigestCheck, run_id: str | None,
                archived: set[str]) -> list[Finding]:  # fmt: skip
    """Runs created before the newest digest that it does not cover, and whether the number
    of runs it covers is the number the database has, ``archived`` ones counted (version 2
    digests only)."""
    if check.covered_at is None:
        return []
    at = datetime.fromisoformat(check.covered_at.replace("Z", "+00:00"))
    stmt = select(runs.c.run_id, runs.c.created_at < at)
    if run_id is not None:
        stmt = stmt.where(runs.c.run_id == run_id)
    with translate_errors(), engine.connect() as conn:
        present = {r: bool(older) for r, older in conn.execute(stmt)}
    uncovered = sorted(r for r, older in present.items() if older and r not in check.sealed)
    findings = [
        Finding("unsealed", r, f"created before the newest digest ({check.covered_at}) but no "
                "digest covers it: it was inserted behind the digests' back")
        for r in uncovered
    ]  # fmt: skip
    counted = len(uncovered) + sum(1 for r in present.keys() | archived if r in check.sealed)
    if run_id is None and counted != check.runs_total:
        findings.append(Finding("run_count", None, f"the newest digest covers "
                                f"{check.runs_total} run(s); the database has {counted} of "
                                "them and older ones"))  # fmt: skip
    return findings


def _consistent(n: int, digest_hash: str, key_id: str, created_at: Any, document: Any) -> bool:
    """Whether a digests row is its document: the columns equal the signed fields and the
    document's body hashes to its digest_hash (so the file comparison covers every column)."""
    try:
        body = json.loads(document) if isinstance(document, str) else document
        if not isinstance(body, dict):
            return False
        hashed = sha256_hex(canonical_json({k: v for k, v in body.items()
                                            if k not in digests.SIGNED}))  # fmt: skip
        return (
            hashed == digest_hash == body.get("digest_hash")
            and key_id == body.get("key_id")
            and body.get("n") == int(n)
            and canonical_time(created_at) == body.get("created_at")
        )
    except DECODE_ERRORS:
        return False
