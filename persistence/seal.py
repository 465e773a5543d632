"""`audit seal` and anchored verification: signed digests of run heads, in SQL and in files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, func, insert, or_, select

from fsm import digests
from fsm.audit import Finding, VerifyReport
from fsm.canonical import canonical_json, sha256_hex
from fsm.digests import Anchors
from fsm.errors import RunNotFound
from persistence.dialects import upsert
from persistence.errors import translate_errors
from persistence.hotpath import DriverStatement
from persistence.lenient import DECODE_ERRORS, canonical_time
from persistence.tables import digests as digest_table
from persistence.tables import runs, sealed_heads
from persistence.verify import fetch, verify


def seal(engine: Engine, key: Ed25519PrivateKey, now: datetime, folder: Path) -> dict[str, Any]:
    """Sign a digest of every run changed since the last one; store it and write its file.

    The file is written before the commit and removed if the commit fails, so the database
    never holds a digest without its file.
    """
    path: Path | None = None
    try:
        with translate_errors(), engine.begin() as conn:
            last = conn.execute(
                select(digest_table.c.document).order_by(digest_table.c.n.desc()).limit(1)
            ).scalar()
            changed = _changed_runs(conn)
            total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
            n = int(last["n"]) + 1 if last else 1
            document = digests.sign(key, n, now, last, changed, int(total))
            path = digests.write(document, folder)
            conn.execute(insert(digest_table), [{
                "n": n, "digest_hash": document["digest_hash"], "key_id": document["key_id"],
                "created_at": now, "document": document,
            }])  # fmt: skip
            _remember(conn, changed)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return document


def _changed_runs(conn: Connection) -> list[tuple[str, int, str]]:
    stmt = (
        select(runs.c.run_id, runs.c.version, runs.c.head_hash)
        .outerjoin(sealed_heads, sealed_heads.c.run_id == runs.c.run_id)
        .where(or_(sealed_heads.c.run_id.is_(None), sealed_heads.c.seq != runs.c.version))
    )
    return [(r, int(v), h) for r, v, h in conn.execute(stmt)]


def _remember(conn: Connection, changed: list[tuple[str, int, str]]) -> None:
    if not changed:
        return
    insert = upsert(conn.dialect, sealed_heads)
    stmt = insert.on_conflict_do_update(
        index_elements=[sealed_heads.c.run_id],
        set_={"seq": insert.excluded.seq, "head_hash": insert.excluded.head_hash},
    )
    conn.execute(stmt, [{"run_id": r, "seq": s, "head_hash": h} for r, s, h in changed])


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
    findings = check.findings
    if run_id is None and int(total) < check.runs_total:
        counted = f"the last digest counted {check.runs_total} runs; the database has {total}"
        findings = [*findings, Finding("run_deleted", None, counted)]
    return replace(report, findings=report.findings + findings, anchored=True, digests=check.count)


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
