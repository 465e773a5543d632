"""Runs written by the previous release (ledger scheme 1) keep verifying after the upgrade.

``tests/golden/demo_ledger_scheme1.json`` is the demo run's ledger exactly as the release
before commitments wrote and hashed it. Loaded into a database at that release's schema and
upgraded, it still verifies, and is reported as legacy rather than trusted silently.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import insert, text

from fsm.definition import trading_definition
from fsm.integrity import chain_findings
from persistence import append_only, migrate, partitions
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.tables import definitions, ledger, runs

SCHEME1 = Path(__file__).parent.parent / "golden" / "demo_ledger_scheme1.json"


def _rows() -> list[dict[str, object]]:
    rows = json.loads(SCHEME1.read_text(encoding="utf-8"))
    for row in rows:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    return rows


def test_the_previous_release_hashes_are_reproduced() -> None:
    rows = [row | {"scheme": 1, "commits": None} for row in _rows()]
    assert chain_findings("run_0002", rows) == []


def test_previous_release_runs_verify_as_legacy_after_the_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0003")
    rows, definition = _rows(), trading_definition()
    at = rows[0]["occurred_at"]
    with engine.begin() as conn:
        conn.execute(insert(definitions), [definition.record().model_dump()])
        conn.execute(insert(runs), [{
            "run_id": "run_0002", "correlation_id": "corr_0003", "account_id": "paper",
            "mode": "paper", "as_of": date(2026, 11, 27), "state": "done", "status": "done",
            "version": len(rows), "definition_hash": definition.definition_hash, "params": {},
            "head_hash": rows[-1]["hash"], "created_at": at, "updated_at": at,
        }])  # fmt: skip
        conn.execute(insert(ledger), rows)
    migrate.upgrade(engine)
    audit = SqlAudit(engine)
    report = audit.verify()
    assert report.ok, report.findings
    assert report.legacy_runs == 1
    with engine.begin() as conn:
        append_only.drop(conn, ["ledger"])
        conn.execute(text("UPDATE ledger SET actor = 'mallory' WHERE seq = 2"))
    # the two triggers dropped are visible too, on the ledger and (PostgreSQL) on each of its
    # month partitions, whose clones went with them
    with engine.begin() as conn:
        tables = 1 + len(partitions.attached(conn)) // len(partitions.PARTITIONED) if (
            conn.dialect.name == "postgresql") else 1  # fmt: skip
    dropped = [("defence_weakened", None)] * 2 * tables
    assert [(f.kind, f.seq) for f in audit.verify().findings] == [("edited", 2), *dropped]


def test_scheme_2_rows_hash_as_before() -> None:
    """The demo run as the release before scheme 3 wrote it: it still verifies unchanged."""
    path = SCHEME1.with_name("demo_ledger_scheme2.json")
    rows = json.loads(path.read_text(encoding="utf-8"))
    for row in rows:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    assert {row["scheme"] for row in rows} == {2}
    assert chain_findings("run_0002", rows) == []


def test_scheme_3_rows_hash_as_before() -> None:
    """The demo run as the release before scheme 4 wrote it (no ``process``): it still
    verifies unchanged."""
    path = SCHEME1.with_name("demo_ledger_scheme3.json")
    rows = json.loads(path.read_text(encoding="utf-8"))
    for row in rows:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    assert {row["scheme"] for row in rows} == {3}
    assert "process" not in rows[0]
    assert chain_findings("run_0002", rows) == []
