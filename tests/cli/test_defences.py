"""`db check` and `audit verify` show a weakened defence of the database (SQLite here; the
PostgreSQL cases are in tests/contract/test_postgres_defences.py)."""

from __future__ import annotations

import sqlite3

from tests.cli.conftest import Cli, one_line_error


def test_a_dropped_trigger_fails_db_check_and_audit_verify(ready: Cli) -> None:
    assert "defences in place" in ready("db", "check").stdout
    ready("run", "--mode", "dry-run")
    assert ready("audit", "verify").returncode == 0
    with sqlite3.connect(ready.folder / "runs.db") as db:
        db.execute("DROP TRIGGER ledger_append_only_delete")
    checked = ready("db", "check", code=3)
    assert "1 weakened defence(s): append-only trigger missing" in one_line_error(checked)
    assert "ledger.ledger_append_only_delete: append-only trigger missing" in checked.stderr
    verified = ready("audit", "verify", code=8)
    assert "ledger.ledger_append_only_delete: defence_weakened: append-only trigger" in (
        verified.stderr
    )
    assert "TAMPERED: 1 finding(s)" in verified.stdout
    report = ready.json("audit", "verify", "--json", code=8)
    assert [f["kind"] for f in report["findings"]] == ["defence_weakened"]
