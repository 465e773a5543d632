"""`audit verify` explains a run's definition hash by its migration rows, and reports an edited
definition hash, on SQLite and PostgreSQL; the reference verifier of the docs agrees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.machines.specs import TRADING_SPECS
from fsm.migration import Migration
from fsm.records import RunRecord
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import runs
from persistence.verify import verify
from tests.conftest import TRADING_DAY
from tests.pinning.variants import engine_of, with_extra_guard

REFERENCE = Path(__file__).parents[2] / "docs" / "reference_verifier.py"
OLD = with_extra_guard()


def _parked(store: SqlRunStore, folder: Path) -> RunRecord:
    broker = PaperBroker(folder / "paper.db")
    clock = FixedClock(TRADING_DAY)
    return engine_of(store, broker, clock, OLD, "old-").run(RunRequest(account_id="paper"))


def _kinds(store: SqlRunStore) -> set[tuple[str, str | None]]:
    return {(f.kind, f.run_id) for f in verify(store.engine).findings}


def _repin(store: SqlRunStore, run: RunRecord, definition_hash: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == run.run_id)
                     .values(definition_hash=definition_hash))  # fmt: skip


def _reference_agrees(url: str, expected: list[str]) -> bool:
    """What the reference verifier says of a SQLite file (it reads SQLite files only)."""
    if not url.startswith("sqlite:///"):
        return True
    done = subprocess.run([sys.executable, str(REFERENCE), url.removeprefix("sqlite:///")],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    return done.stdout.splitlines() == expected


def test_a_migrated_run_verifies_and_an_edited_hash_is_reported(
    migrated_url: str, tmp_path: Path
) -> None:
    store = SqlRunStore(make_engine(migrated_url))
    run = _parked(store, tmp_path)
    store.ensure_definition(TRADING_SPECS.definition.record())  # deployed: the new one stored
    _repin(store, run, TRADING_SPECS.definition.definition_hash)  # re-pinned, no migration row
    assert _kinds(store) == {("identity_changed", run.run_id)}
    assert _reference_agrees(migrated_url, [f"run {run.run_id}: identity"])
    _repin(store, run, OLD.definition.definition_hash)
    clock = FixedClock(TRADING_DAY)
    Migration(store, TRADING_SPECS, clock, "ops-carol", "release 2").run(run.run_id)
    assert _kinds(store) == set()
    assert _reference_agrees(migrated_url, [])
    _repin(store, run, OLD.definition.definition_hash)  # edited back: the migration row says
    assert _kinds(store) == {("definition_changed", run.run_id)}
    assert _reference_agrees(migrated_url, [f"run {run.run_id}: definition"])
