"""Digest version 2 proves which runs exist: a Merkle root over every sealed run head."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, text

from fsm.adapters.paper_broker import PaperBroker
from fsm.canonical import canonical_json, sha256_hex, utc_text
from fsm.clock import FixedClock
from fsm.digests import Anchors
from fsm.errors import HistoryConflict
from fsm.ids import SequentialIdFactory
from fsm.keyfiles import generate_keys, key_id, load_private_key
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import append_only
from persistence.tables import digests as digest_table
from tests.audit.conftest import History
from tests.conftest import TRADING_DAY, make_engine_for

LATER = TRADING_DAY + timedelta(minutes=1)


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return load_private_key(generate_keys(tmp_path / "keys")[0])


@pytest.fixture
def anchors(tmp_path: Path, key: Ed25519PrivateKey) -> Anchors:
    (tmp_path / "digests").mkdir()
    return Anchors(tmp_path / "digests", (key.public_key(),))


def backdated_run(history: History, tmp_path: Path, account: str) -> RunRecord:
    """A real run whose records say it was created at TRADING_DAY (before LATER)."""
    broker = PaperBroker(tmp_path / f"{account}.db")
    fsm = make_engine_for(history.store, broker, FixedClock(TRADING_DAY), Settings(),
                          ids=SequentialIdFactory(account))  # fmt: skip
    return fsm.run(RunRequest(account_id=account))


def _kinds(history: History, anchors: Anchors) -> set[tuple[str, str | None]]:
    return {(f.kind, f.run_id) for f in history.audit.verify(anchors=anchors).findings}


def test_a_run_inserted_behind_the_digests_back_is_named(
    sqlite_history: History, tmp_path: Path, key: Ed25519PrivateKey, anchors: Anchors
) -> None:
    document = sqlite_history.audit.seal(key, LATER, anchors.folder)
    assert document["version"] == 2
    assert document["runs_total"] == 3
    assert _kinds(sqlite_history, anchors) == set()
    ghost = backdated_run(sqlite_history, tmp_path, "ghost")
    found = _kinds(sqlite_history, anchors)
    assert found == {("unsealed", ghost.run_id), ("run_count", None)}
    sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    assert _kinds(sqlite_history, anchors) == set()  # sealed now: covered from here on


def test_a_forged_sealed_heads_row_does_not_let_a_run_escape_sealing(
    sqlite_history: History, tmp_path: Path, key: Ed25519PrivateKey, anchors: Anchors
) -> None:
    sqlite_history.audit.seal(key, LATER, anchors.folder)
    ghost = backdated_run(sqlite_history, tmp_path, "ghost")
    with sqlite_history.store.engine.begin() as conn:
        conn.execute(text("INSERT INTO sealed_heads (run_id, seq, head_hash) VALUES (:r, :s, :h)"),
                     {"r": ghost.run_id, "s": ghost.version, "h": ghost.head_hash})  # fmt: skip
    document = sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    assert [r[0] for r in document["runs"]] == [ghost.run_id]
    assert document["runs_total"] == 4
    assert _kinds(sqlite_history, anchors) == set()


def test_sealing_again_does_not_launder_a_truncated_run(
    sqlite_history: History, key: Ed25519PrivateKey, anchors: Anchors
) -> None:
    run = sqlite_history.done.run_id
    sqlite_history.audit.seal(key, LATER, anchors.folder)
    head = sqlite_history.store.ledger(run)[-2].hash
    with sqlite_history.store.engine.begin() as conn:
        append_only.drop(conn, ("ledger",))
        conn.execute(text("DELETE FROM ledger WHERE run_id = :r AND seq = 6"), {"r": run})
        conn.execute(text("UPDATE runs SET version = 5, head_hash = :h WHERE run_id = :r"),
                     {"h": head, "r": run})  # fmt: skip
    again = sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    assert again["runs"] == []  # its signed head stays the longer one
    assert ("truncated", run) in _kinds(sqlite_history, anchors)


def test_version_1_digests_keep_verifying_and_version_2_continues_them(
    sqlite_history: History, key: Ed25519PrivateKey, anchors: Anchors
) -> None:
    heads = [[r.run_id, r.version, r.head_hash] for r in
             (sqlite_history.done, sqlite_history.refused, sqlite_history.dry)]  # fmt: skip
    body = {"created_at": utc_text(LATER), "key_id": key_id(key.public_key()), "n": 1,
            "previous": None, "runs": sorted(heads), "runs_total": 3, "version": 1}  # fmt: skip
    signed = canonical_json(body)
    document = body | {
        "digest_hash": sha256_hex(signed),
        "signature": base64.b64encode(key.sign(signed.encode())).decode(),
    }
    (anchors.folder / "digest-00000001.json").write_text(json.dumps(document))
    with sqlite_history.store.engine.begin() as conn:
        conn.execute(
            insert(digest_table),
            [
                {
                    "n": 1,
                    "digest_hash": document["digest_hash"],
                    "key_id": body["key_id"],
                    "created_at": LATER,
                    "document": document,
                }
            ],
        )
    report = sqlite_history.audit.verify(anchors=anchors)
    assert (report.ok, report.digests) == (True, 1)
    second = sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    assert (second["version"], second["runs"], second["runs_total"]) == (2, [], 3)
    report = sqlite_history.audit.verify(anchors=anchors)
    assert (report.ok, report.digests) == (True, 2)


def test_seal_refuses_when_the_last_digest_in_the_database_is_forged(
    sqlite_history: History, key: Ed25519PrivateKey, anchors: Anchors
) -> None:
    sqlite_history.audit.seal(key, LATER, anchors.folder)
    with sqlite_history.store.engine.begin() as conn:
        append_only.drop(conn, ("digests",))
        forged = conn.execute(text("SELECT document FROM digests WHERE n = 1")).scalar_one()
        forged = json.loads(forged) | {"runs_total": 0}
        conn.execute(text("UPDATE digests SET document = :d"), {"d": json.dumps(forged)})
    with pytest.raises(HistoryConflict, match="refusing to seal"):
        sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    assert len(list(anchors.folder.iterdir())) == 1  # no file of a digest not stored
