"""Every committed column, changed in one stored row of a sealed history, and one row added to
and removed from every committed table: `audit verify` with the signed digests names each
change, on SQLite and on PostgreSQL. The list of edits is the coverage map itself
(persistence/coverage.py): a column or table it does not classify fails here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Executable, select, update

from persistence.coverage import COLUMNS, TABLES, coverage
from persistence.engine import make_engine
from persistence.tables import ledger, metadata
from tests.audit.mutations import (
    Edit,
    SealedHistory,
    Victim,
    add_row,
    build,
    change,
    remove_row,
    tamper,
)
from tests.postgres_cluster import PostgresCluster

RUN_ORDER = ("done", "approved", "rejected", "cancelled", "refused", "no_trade", "dry", "queued",
             "halted", "archived")  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def sealed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[SealedHistory]:  # fmt: skip
    folder = tmp_path_factory.mktemp(f"sealed-{request.param}")
    if request.param == "sqlite":
        yield build(f"sqlite:///{folder / 'base.db'}", folder)
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    duties = cluster.least_privileged_database()  # the history is made under least privilege
    superuser = duties["owner"].replace("tradefsm_owner@", f"{cluster.user}@")  # who edits it
    yield build(superuser, folder, duties)


def _mutations() -> list[tuple[str, str | None, Edit]]:
    """(table, column, edit) for every committed column and every committed table."""
    columns = [(t, c, change(c)) for (t, c), cover in COLUMNS.items()
               if cover.committed and t in metadata.tables]  # fmt: skip
    rows = [(t, None, edit) for t, cover in TABLES.items() if cover.committed
            for edit in (add_row, remove_row)]  # fmt: skip
    return columns + rows


def _named(sealed: SealedHistory, table: str, column: str | None, edit: Edit) -> str | None:
    """None if verify names the change on a fresh copy; else what it said."""
    url = sealed.copy()
    runs = [sealed.runs[name] for name in RUN_ORDER]
    victim, other, undo = tamper(url, runs, table, edit, column)
    try:
        report = sealed.verify(url)
    finally:
        sealed.discard(url, undo)
    involved = {victim.run_id, other} - {None}
    named = [f for f in report.findings if f.run_id in involved
             or (f.key or "").startswith(table.rstrip("s"))]  # fmt: skip
    if not report.ok and named:
        return None
    what = column or edit.__name__
    return f"{table}.{what} of {sorted(involved)}: {report.findings}"


def test_every_committed_change_is_named(sealed: SealedHistory) -> None:
    assert sealed.verify(sealed.url).ok
    started = time.monotonic()
    missed = [m for t, c, edit in _mutations() if (m := _named(sealed, t, c, edit))]
    elapsed = time.monotonic() - started
    print(f"{len(_mutations())} mutations in {elapsed:.1f}s")
    assert missed == [], "\n".join(missed)
    assert sealed.verify(sealed.url).ok  # the base is intact: every edit was undone


def test_every_column_and_table_is_in_the_map(sealed: SealedHistory) -> None:
    engine = make_engine(sealed.url, read_only=True)
    try:
        rows = coverage(engine)
    finally:
        engine.dispose()
    unknown = [f"{r['table']}.{r['column']}" for r in rows if not r["classified"]]
    stale = [f"{r['table']}.{r['column']}" for r in rows if not r["in_database"]]
    assert unknown == [], "classify these columns in persistence/coverage.py"
    assert stale == [], "these columns of the map are in no table"
    assert set(TABLES) == {r["table"] for r in rows}


def test_the_digest_files_are_where_the_history_says(sealed: SealedHistory) -> None:
    # the second digest was sealed after a run was archived
    assert sorted(p.name for p in Path(sealed.anchors.folder).iterdir()) == [
        "digest-00000001.json", "digest-00000002.json"]  # fmt: skip


def test_the_command_line_names_a_changed_deadline(sealed: SealedHistory) -> None:
    url = sealed.copy()
    victim, _, undo = tamper(url, [sealed.runs["approved"]], "runs", change("deadline_at"),
                             "deadline_at")  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fsm", "audit", "verify", "--db", url, "--json", "--digests",
             str(sealed.anchors.folder), "--public-key", str(sealed.public_key)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        sealed.discard(url, undo)
    assert done.returncode == 8, done.stderr
    assert "Traceback" not in done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert [(f["kind"], f["run_id"]) for f in findings] == [("run_changed", victim.run_id)]
    assert "deadline" in findings[0]["problem"]


@pytest.mark.parametrize(("column", "problem"), [("deadline_at", "deadline"),
                                                 ("updated_at", "updated_at")])  # fmt: skip
def test_the_reference_verifier_names_a_changed_deadline_or_time(
    sealed: SealedHistory, recipe: dict[str, Any], column: str, problem: str
) -> None:
    if sealed.postgres:
        pytest.skip("the reference verifier of the docs reads SQLite")
    for name, run in sealed.runs.items():
        if name == "archived":
            continue  # its rows left the database for its evidence bundle
        assert recipe["verify_run"](sealed.url.removeprefix("sqlite:///"), run) == []
    url = sealed.copy()
    victim, _, undo = tamper(url, [sealed.runs["approved"]], "runs", change(column), column)
    try:
        assert problem in recipe["verify_run"](url.removeprefix("sqlite:///"), victim.run_id)
    finally:
        sealed.discard(url, undo)


def test_an_approvals_reason_is_committed(sealed: SealedHistory) -> None:
    """The reason a person gave is an input of the operator_named decision: edited, it is named."""

    def reason(conn: Connection, v: Victim) -> tuple[str | None, Executable]:
        guards = v.row["guards"]
        named = next(g for g in guards if g["name"] == "operator_named")
        assert named["inputs"]["reason"] == "approved after review"
        named["inputs"]["reason"] = "as the desk asked"
        conn.execute(update(v.table).where(*v.where).values(guards=guards))
        return None, update(v.table).where(*v.where).values(guards=v.row["guards"])

    url = sealed.copy()
    approved = sealed.runs["approved"]
    engine = make_engine(url)
    with engine.connect() as conn:
        seq = conn.execute(select(ledger.c.seq).where(
            ledger.c.run_id == approved, ledger.c.event == "approved")).scalar_one()  # fmt: skip
    engine.dispose()
    _, _, undo = tamper(url, [approved], "ledger", reason, None, seq=seq)
    try:
        found = {(f.kind, f.run_id, f.seq) for f in sealed.verify(url).findings}
    finally:
        sealed.discard(url, undo)
    assert ("edited", approved, seq) in found
