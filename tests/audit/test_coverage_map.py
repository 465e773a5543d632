"""`tradefsm audit coverage`: every column of the schema and of the database, how it is proven;
the table of docs/audit-integrity.md is the map's own rendering."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from persistence.coverage import PAGE, page_with_map
from persistence.tables import metadata
from tests.cli.conftest import Cli, one_line_error


@pytest.fixture
def ready(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli.upgrade()
    return cli


def test_the_docs_table_is_generated_from_the_map() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert page == page_with_map(page), "run `python -m persistence.coverage`"


def test_coverage_lists_every_column_of_the_schema(ready: Cli) -> None:
    rows = ready.json("audit", "coverage", "--format", "json")
    listed = {(r["table"], r["column"]) for r in rows}
    assert {(t.name, c.name) for t in metadata.sorted_tables for c in t.columns} <= listed
    assert all(r["classified"] and r["in_database"] for r in rows)
    by = {(r["table"], r["column"]): r for r in rows}
    assert by[("runs", "deadline_at")]["by"] == "guard input"
    assert not by[("runs", "lease_owner")]["committed"]
    assert "coordination" in by[("runs", "lease_owner")]["how"]


def test_a_column_the_map_does_not_know_fails(ready: Cli) -> None:
    with sqlite3.connect(ready.folder / "runs.db") as conn:
        conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")
    conn.close()
    done = ready("audit", "coverage", code=8)
    assert "runs.note" in one_line_error(done)
