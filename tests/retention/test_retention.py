"""Retention on SQLite and PostgreSQL: the plan, archiving (bundle, verify, tombstone), legal
holds, and what `audit verify` says afterwards — archived, intact — or when a tombstone, a
bundle or a run's rows were touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from fsm import archive, bundle, holds
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import InvalidConfiguration, InvalidInput
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.tombstones import entry_hash as tombstone_hash
from persistence import retention
from persistence.defences import defence_findings
from persistence.retention import SqlHolds
from persistence.retentionlog import archived
from persistence.tables import checkpoints, intent_events, ledger, runs, tombstones
from tests.audit.mutations import bypassing
from tests.conftest import TRADING_DAY, make_engine_for
from tests.retention.conftest import CUT_OFF, LATER, Retained


def _count(retained: Retained, table: Table, run_id: str) -> int:
    stmt = select(func.count()).select_from(table).where(table.c.run_id == run_id)
    with retained.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_the_plan_lists_finished_runs_older_than_the_cut_off_and_the_held_ones(
    retained: Retained,
) -> None:
    history = retained.history
    plan = {c.run_id: c.held for c in retention.plan(retained.engine, CUT_OFF)}
    assert plan == {history.done.run_id: None, history.dry.run_id: None,
                    history.refused.run_id: "legal hold on its account"}  # fmt: skip
    assert retained.parked not in plan  # waiting for approval: never archived
    assert retention.plan(retained.engine, history.done.created_at) == []


def test_apply_archives_verifies_and_tombstones(retained: Retained) -> None:
    history = retained.history
    head = (history.store.get_run(history.done.run_id).version,
            history.store.get_run(history.done.run_id).head_hash)  # fmt: skip
    done = retained.apply()
    assert set(done.archived) == {history.done.run_id, history.dry.run_id}
    assert done.left == {history.refused.run_id: "legal hold on its account"}
    for table in (runs, ledger, checkpoints, intent_events):
        assert _count(retained, table, history.done.run_id) == 0
    folder = retained.archive / history.done.run_id
    assert bundle.verify(folder, retained.anchors.public_keys) == []
    stone = next(t for t in archived(retained.engine) if t.run_id == history.done.run_id)
    assert (stone.head_seq, stone.head_hash) == head
    assert stone.bundle_hash == archive.bundle_hash(folder) == done.archived[stone.run_id]
    assert (stone.actor, stone.reason) == ("ops-ann", "six years passed")
    report = retained.verify()
    assert report.ok, report.findings
    assert report.archived == done.archived  # "archived, bundle X", not run_deleted
    retained.seal()  # the next digest signs the tombstones' head
    digest = json.loads(sorted(retained.anchors.folder.iterdir())[-1].read_text())
    assert digest["tombstones"] == [2, archived(retained.engine)[-1].hash]
    assert retained.verify().ok
    one = history.audit.verify(history.done.run_id, retained.anchors, retained.archive)
    assert one.ok
    assert one.archived == {history.done.run_id: stone.bundle_hash}


def test_a_held_run_survives_until_its_hold_is_released(retained: Retained) -> None:
    history, store = retained.history, SqlHolds(retained.engine)
    holds.change(store, "hold", history.done.run_id, None, "legal-lee", "case 7", "ops", LATER)
    done = retained.apply()
    assert done.left == {history.done.run_id: "legal hold on the run",
                         history.refused.run_id: "legal hold on its account"}  # fmt: skip
    assert _count(retained, ledger, history.done.run_id) > 0
    holds.change(store, "release", history.done.run_id, None, "legal-lee", "closed", "ops", LATER)
    assert history.done.run_id in retained.apply().archived
    rows = store.holds()
    assert [(r.action, r.actor) for r in rows] == [
        ("hold", "legal-lee"), ("hold", "legal-lee"), ("release", "legal-lee")]  # fmt: skip
    assert holds.findings(rows) == []
    assert retained.verify().ok
    with pytest.raises(InvalidInput, match="already held"):
        holds.change(store, "hold", None, "beta", "legal-lee", "again", "ops", LATER)
    with pytest.raises(InvalidInput, match="exactly one"):
        holds.change(store, "hold", "run_x", "beta", "legal-lee", "both", "ops", LATER)


def test_a_run_keeps_its_rows_without_a_tombstone(retained: Retained) -> None:
    """The triggers refuse a DELETE of a run's history unless the run was archived."""
    with pytest.raises(DBAPIError, match="append-only"), retained.engine.begin() as conn:
        conn.execute(delete(ledger).where(ledger.c.run_id == retained.history.refused.run_id))
    retained.apply()
    assert defence_findings(retained.engine) == []


def test_an_edited_tombstone_is_flagged(retained: Retained) -> None:
    retained.apply()
    retained.seal()
    edit = update(tombstones).where(tombstones.c.seq == 1).values(reason="nothing to see")
    bypassing(retained.history.url, lambda conn: conn.execute(edit))
    found = {(f.kind, f.key) for f in retained.verify().findings}
    assert ("tombstone_changed", "tombstone 1") in found


def test_a_removed_tombstone_leaves_a_deleted_run(retained: Retained) -> None:
    retained.apply()
    retained.seal()
    gone = archived(retained.engine)[-1]
    bypassing(
        retained.history.url,
        lambda conn: conn.execute(delete(tombstones).where(tombstones.c.seq == gone.seq)),
    )
    found = {(f.kind, f.run_id) for f in retained.verify().findings}  # fmt: skip
    assert ("run_deleted", gone.run_id) in found
    assert ("tombstone_changed", None) in found  # the signed head of the chain is gone


def test_a_deleted_or_edited_bundle_is_flagged_by_verify_archive(retained: Retained) -> None:
    done = retained.apply()
    edited, removed = sorted(done.archived)
    ledger_file = retained.archive / edited / "ledger.json"
    ledger_file.write_text(ledger_file.read_text().replace("trader-ann", "trader-bob"))
    shutil.rmtree(retained.archive / removed)
    found = {(f.kind, f.run_id) for f in retained.verify().findings}
    assert found == {("archive_changed", edited), ("archive_missing", removed)}
    assert retained.verify(archive=False).ok  # the database itself is intact


def test_a_hold_added_after_the_plan_still_keeps_its_run(retained: Retained) -> None:
    history = retained.history
    chosen = retention.plan(retained.engine, CUT_OFF)
    holds.change(SqlHolds(retained.engine), "hold", history.dry.run_id, None, "legal-lee",
                 "late subpoena", "ops", LATER)  # fmt: skip
    done = retention.apply(retained.engine, chosen, retained.archive,
                           retained.anchors.public_keys, ("ops-ann", "six years", "ops"), LATER,
                           lambda *_: None)  # fmt: skip
    assert done.left[history.dry.run_id] == "legal hold on the run"
    assert _count(retained, ledger, history.dry.run_id) > 0


def test_a_retried_run_stays_while_its_retry_does(retained: Retained, tmp_path: Path) -> None:
    history, store = retained.history, SqlHolds(retained.engine)
    holds.change(store, "release", None, "beta", "legal-lee", "case closed", "ops", LATER)
    retrying = make_engine_for(history.store, PaperBroker(tmp_path / "retry.db"),
                               FixedClock(TRADING_DAY), Settings(actor="trader-ann"),
                               ids=SequentialIdFactory("retry"))  # fmt: skip
    child = retrying.retry(history.refused.run_id).run_id
    holds.change(store, "hold", child, None, "legal-lee", "case 9", "ops", LATER)
    retained.seal()
    done = retained.apply()
    assert done.left == {child: "legal hold on the run",
                         history.refused.run_id: f"run {child} retried it and stays"}  # fmt: skip


def test_an_unsealed_run_is_not_archived(retained: Retained, tmp_path: Path) -> None:
    history = retained.history
    late = make_engine_for(history.store, PaperBroker(tmp_path / "late.db"),
                           FixedClock(TRADING_DAY), Settings(actor="trader-ann"),
                           ids=SequentialIdFactory("late"))  # fmt: skip
    unsealed = late.run(RunRequest(account_id="epsilon")).run_id
    with pytest.raises(InvalidConfiguration, match="audit seal` first; nothing was archived"):
        retained.apply()
    assert _count(retained, ledger, unsealed) > 0
    assert archived(retained.engine) == []
    assert not retained.archive.exists()


def test_the_reference_verifier_agrees_on_archived_runs(
    retained: Retained, recipe: dict[str, Any]
) -> None:
    if retained.history.url.startswith("postgresql"):
        pytest.skip("the reference verifier of the docs reads SQLite")
    retained.apply()
    retained.seal()
    path = retained.history.url.removeprefix("sqlite:///")
    digests = (str(retained.anchors.folder), "--public-key", str(retained.public_key))
    assert recipe["main"]([path, "--digests", *digests]) == 0
    assert retained.verify().ok
    edit = update(tombstones).where(tombstones.c.seq == 1).values(actor="nobody")
    bypassing(retained.history.url, lambda conn: conn.execute(edit))
    stone = archived(retained.engine)[0].run_id
    keys = [retained.public_key.read_bytes()]
    found = recipe["verify_database"](path, retained.anchors.folder, keys)
    assert found == [f"run {stone}: tombstone 1 does not verify"]
    named = {f.run_id for f in retained.verify().findings if f.kind == "tombstone_changed"}
    assert named == {stone}


def test_a_tombstone_rewritten_to_another_head_is_flagged(retained: Retained) -> None:
    """Rewritten with its hash recomputed, before any digest signed the tombstones: the head it
    names is not the one the digests sealed for its run."""
    retained.apply()
    last = archived(retained.engine)[-1]
    forged = last.model_copy(update={"head_seq": last.head_seq - 1})
    forged = forged.model_copy(update={"hash": tombstone_hash(forged.prev_hash, forged)})
    edit = (update(tombstones).where(tombstones.c.seq == last.seq)
            .values(head_seq=forged.head_seq, hash=forged.hash))  # fmt: skip
    bypassing(retained.history.url, lambda conn: conn.execute(edit))
    found = [f for f in retained.verify().findings if f.kind == "tombstone_changed"]
    assert [(f.run_id, "the signed digests sealed" in f.problem) for f in found] == [
        (last.run_id, True)]  # fmt: skip
