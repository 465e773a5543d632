"""The tamper matrix: edit a real database by direct SQL, and `audit verify` names each change.

Triggers are dropped first where a case needs it, as a database administrator could. Cases the
chain alone cannot see (a consistent rewrite) are caught once signed digests anchor the heads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from fsm.digests import Anchors, sign
from fsm.errors import HistoryIsAppendOnly
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from fsm.ledger import entry_hash, seal
from persistence import append_only, constraints
from persistence.errors import translate_errors
from persistence.mapping import ledger_row
from persistence.tables import checkpoints, definitions, ledger, runs
from tests.audit.conftest import History
from tests.conftest import TRADING_DAY, restore_triggers

HISTORY_TABLES = append_only.TABLES
RUN_HISTORY = ("ledger", "checkpoints", "step_attempts", "intent_events", "digests")
Tamper = Callable[[History, str], None]


def _sql(history: History, statement: str, **params: Any) -> None:
    with history.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _without_triggers(history: History) -> None:
    with history.store.engine.begin() as conn:
        append_only.drop(conn, HISTORY_TABLES)
        constraints.drop(conn)


def _triggers_back(history: History) -> None:
    """A careful administrator puts the dropped triggers back as they were: `audit verify`
    then reports no weakened defence, only what the change did to the history."""
    with history.store.engine.begin() as conn:
        restore_triggers(conn)


def edit(history: History, run: str) -> None:
    _sql(history, "UPDATE ledger SET actor = 'mallory' WHERE run_id = :r AND seq = 3", r=run)


def delete_middle(history: History, run: str) -> None:
    _sql(history, "DELETE FROM ledger WHERE run_id = :r AND seq = 3", r=run)


def delete_last(history: History, run: str) -> None:
    _sql(history, "DELETE FROM ledger WHERE run_id = :r AND seq = 6", r=run)


def delete_last_head_back(history: History, run: str) -> None:
    """The reported case: the tail row gone and the run's head pointed back one row."""
    previous = history.store.ledger(run)[-2].hash
    delete_last(history, run)
    _sql(history, "UPDATE runs SET head_hash = :h WHERE run_id = :r", h=previous, r=run)


def reorder(history: History, run: str) -> None:
    _sql(history, "UPDATE ledger SET seq = 100 WHERE run_id = :r AND seq = 3", r=run)
    _sql(history, "UPDATE ledger SET seq = 3 WHERE run_id = :r AND seq = 4", r=run)
    _sql(history, "UPDATE ledger SET seq = 4 WHERE run_id = :r AND seq = 100", r=run)


def insert_middle(history: History, run: str) -> None:
    for seq in (6, 5, 4, 3):
        _sql(history, "UPDATE ledger SET seq = :n WHERE run_id = :r AND seq = :o",
             r=run, o=seq, n=seq + 1)  # fmt: skip
    columns = ", ".join(c.name for c in ledger.columns if c.name not in ("seq", "event"))
    _sql(history, f"INSERT INTO ledger (seq, event, {columns}) SELECT 3, 'forged', {columns} "
         "FROM ledger WHERE run_id = :r AND seq = 2", r=run)  # fmt: skip


def append_forged(history: History, run: str) -> None:
    """A careful forger: a well-chained row after the head, but the run row keeps the head."""
    last = history.store.ledger(run)[-1]
    forged = seal(
        last.hash, **last.model_dump(exclude={"hash", "prev_hash", "scheme"}) | {"seq": 7}
    )
    with history.store.engine.begin() as conn:
        conn.execute(ledger.insert(), ledger_row(forged))


def identity(history: History, run: str) -> None:
    _sql(history, "UPDATE runs SET account_id = 'other', mode = 'live' WHERE run_id = :r", r=run)


def order_qty(history: History, run: str) -> None:
    _sql(history, "UPDATE order_intents SET qty = '999' WHERE run_id = :r", r=run)


def order_status(history: History, run: str) -> None:
    _sql(history, "UPDATE order_intents SET status = 'rejected' WHERE run_id = :r", r=run)


def order_history(history: History, run: str) -> None:
    _sql(history, "UPDATE intent_events SET status = 'rejected' WHERE run_id = :r AND n = 1",
         r=run)  # fmt: skip


def order_history_deleted(history: History, run: str) -> None:
    _sql(history, "DELETE FROM intent_events WHERE run_id = :r AND n > 1", r=run)


def checkpoint_prices(history: History, run: str) -> None:
    with history.store.engine.begin() as conn:
        output = conn.execute(select(checkpoints.c.output).where(
            checkpoints.c.run_id == run, checkpoints.c.seq == 4)).scalar_one()  # fmt: skip
        output = json.loads(output) if isinstance(output, str) else output
        output["prices"] = dict.fromkeys(output["prices"], "1.00")
        where = (checkpoints.c.run_id == run, checkpoints.c.seq == 4)
        conn.execute(update(checkpoints).where(*where).values(output=output))


def checkpoint_deleted(history: History, run: str) -> None:
    _sql(history, "DELETE FROM checkpoints WHERE run_id = :r AND seq = 4", r=run)


def run_state(history: History, run: str) -> None:
    _sql(history, "UPDATE runs SET state = 'failed', status = 'failed' WHERE run_id = :r", r=run)


def run_result(history: History, run: str) -> None:
    with history.store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == run).values(
            result={"ended_by": "execution_completed", "placed": "0"}))  # fmt: skip


def definition(history: History, run: str) -> None:
    with history.store.engine.begin() as conn:
        stored = conn.execute(select(definitions.c.definition_hash, definitions.c.canonical))
        for name, stored_canonical in stored.all():
            canonical = (
                json.loads(stored_canonical) if isinstance(stored_canonical, str)
                else stored_canonical
            )  # fmt: skip
            canonical["transitions"] = canonical["transitions"][:-1]  # a guard edge gone
            conn.execute(update(definitions).where(definitions.c.definition_hash == name)
                         .values(canonical=canonical))  # fmt: skip


# (tamper, kinds it must be found as, at which seq/key)
DETECTED: list[tuple[Tamper, set[tuple[str, object]]]] = [
    (edit, {("edited", 3)}),
    (delete_middle, {("deleted", 3)}),
    (delete_last, {("truncated", 6)}),
    (delete_last_head_back, {("truncated", 6)}),
    (reorder, {("reordered", 3)}),
    (insert_middle, {("inserted", 3)}),
    (append_forged, {("inserted", 7)}),
    (identity, {("identity_changed", 1)}),
    (order_qty, {("intent_changed", None)}),
    (order_status, {("intent_changed", None)}),
    (order_history, {("intent_changed", None)}),
    (order_history_deleted, {("intent_changed", 6)}),
    (checkpoint_prices, {("checkpoint_changed", 4)}),
    (checkpoint_deleted, {("checkpoint_changed", 4)}),
    (run_state, {("run_changed", None)}),
    (run_result, {("outcome_changed", 6)}),
    (definition, {("definition_changed", None)}),
]  # fmt: skip


def _found(findings: list[Any]) -> set[tuple[str, object]]:
    return {(f.kind, f.seq) for f in findings}


@pytest.mark.parametrize(("tamper", "expected"), DETECTED, ids=[c[0].__name__ for c in DETECTED])
def test_verify_names_each_change(
    history: History, tamper: Tamper, expected: set[tuple[str, object]]
) -> None:
    assert history.audit.verify().ok
    _without_triggers(history)
    victim = history.done.run_id
    tamper(history, victim)
    _triggers_back(history)
    report = history.audit.verify()
    assert expected <= _found(report.findings), report.findings
    assert {f.run_id for f in report.findings} <= {victim, None}  # other runs are untouched
    assert history.audit.verify(history.refused.run_id).ok == (tamper is not definition)


def recompute_chain(history: History, run: str) -> None:
    """A rewrite by someone with write access: one row edited, every later hash recomputed."""
    rows = [e.model_dump() for e in history.store.ledger(run)]
    rows[2]["actor"] = "mallory"
    prev = rows[1]["hash"]
    for row in rows[2:]:
        row["prev_hash"], row["hash"] = prev, entry_hash(prev, row)
        prev = row["hash"]
        _sql(history, "UPDATE ledger SET actor = :a, prev_hash = :p, hash = :h WHERE run_id = :r "
             "AND seq = :s", a=row["actor"], p=row["prev_hash"], h=row["hash"], r=run,
             s=row["seq"])  # fmt: skip
    _sql(history, "UPDATE runs SET head_hash = :h WHERE run_id = :r", h=prev, r=run)


def delete_run(history: History, run: str) -> None:
    for table in ("intent_events", "order_intents", "checkpoints", "step_attempts", "ledger",
                  "sealed_heads", "runs"):  # fmt: skip
        _sql(history, f"DELETE FROM {table} WHERE run_id = :r", r=run)


def truncate_and_fix(history: History, run: str) -> None:
    """The tail row gone and the run row made to agree: a consistent truncation."""
    head = history.store.ledger(run)[-2].hash
    delete_last(history, run)
    _sql(history, "DELETE FROM checkpoints WHERE run_id = :r AND seq = 6", r=run)
    _sql(history, "UPDATE runs SET version = 5, state = 'executing', status = 'active', "
         "head_hash = :h, result = NULL, updated_at = (SELECT occurred_at FROM ledger WHERE "
         "run_id = :r AND seq = 5) WHERE run_id = :r", h=head, r=run)  # fmt: skip


ANCHORED: list[tuple[Tamper, set[tuple[str, object]]]] = [
    (recompute_chain, {("rewritten", 6)}),
    (delete_run, {("run_deleted", None)}),
    (truncate_and_fix, {("truncated", 6)}),
]


@pytest.fixture
def anchors(history: History, tmp_path: Path) -> Anchors:
    private, public = generate_keys(tmp_path / "keys")
    history.audit.seal(load_private_key(private), TRADING_DAY, tmp_path / "digests")
    return Anchors(tmp_path / "digests", (load_public_key(public),))


@pytest.mark.parametrize(("tamper", "expected"), ANCHORED, ids=[c[0].__name__ for c in ANCHORED])
def test_digests_catch_what_the_chain_cannot(
    history: History, anchors: Anchors, tamper: Tamper, expected: set[tuple[str, object]]
) -> None:
    assert history.audit.verify(anchors=anchors).ok
    _without_triggers(history)
    tamper(history, history.done.run_id)
    _triggers_back(history)
    alone = history.audit.verify()
    assert alone.ok  # consistent: the chain alone cannot see it
    assert not alone.anchored
    anchored = history.audit.verify(anchors=anchors)
    assert expected <= _found(anchored.findings), anchored.findings
    assert anchored.anchored


def _files(anchors: Anchors) -> list[Path]:
    return sorted(anchors.folder.glob("digest-*.json"))


def test_a_deleted_or_forged_digest_is_named(
    history: History, anchors: Anchors, tmp_path: Path
) -> None:
    other_key = load_private_key(generate_keys(tmp_path / "other")[0])
    history.audit.seal(load_private_key(tmp_path / "keys" / "tradefsm-audit.key"), TRADING_DAY,
                       anchors.folder)  # fmt: skip
    first, second = _files(anchors)
    document = json.loads(second.read_text())
    document["runs_total"] = 0
    second.write_text(json.dumps(document))  # forged: signature no longer matches
    assert ("bad_signature", second.name) in _by_key(history.audit.verify(anchors=anchors))
    forged = sign(other_key, 2, TRADING_DAY, json.loads(first.read_text()), [], {})  # other key
    second.write_text(json.dumps(forged))
    assert ("bad_signature", second.name) in _by_key(history.audit.verify(anchors=anchors))
    first.unlink()
    second.unlink()
    missing = _by_key(history.audit.verify(anchors=anchors))
    assert ("digest_missing", "digest-00000001.json") in missing


def test_a_digest_deleted_from_the_database_is_named(history: History, anchors: Anchors) -> None:
    _without_triggers(history)
    _sql(history, "DELETE FROM digests")
    _triggers_back(history)
    found = _by_key(history.audit.verify(anchors=anchors))
    assert ("digest_missing", "digest-00000001.json") in found


def _by_key(report: Any) -> set[tuple[str, str | None]]:
    return {(f.kind, f.key) for f in report.findings}


@pytest.mark.parametrize("table", RUN_HISTORY)  # the key registry and cancel requests: their tests
def test_history_tables_refuse_update_and_delete(
    history: History, anchors: Anchors, table: str
) -> None:
    for statement in (f"UPDATE {table} SET {'n = n' if table == 'digests' else 'run_id = run_id'}",
                      f"DELETE FROM {table}"):  # fmt: skip
        with pytest.raises(HistoryIsAppendOnly), translate_errors():
            _sql(history, statement)


def test_verify_from_the_command_line(sqlite_history: History) -> None:
    history = sqlite_history
    command = [sys.executable, "-m", "fsm", "audit", "verify", "--db", history.url]
    intact = subprocess.run(command, capture_output=True, text=True, check=False)
    assert intact.returncode == 0
    assert "intact" in intact.stdout
    assert "not anchored" in intact.stdout
    _without_triggers(history)
    edit(history, history.done.run_id)
    identity(history, history.done.run_id)
    tampered = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    assert tampered.returncode == 8
    report = json.loads(tampered.stdout)
    assert report["anchored"] is False
    assert {(f["kind"], f["seq"]) for f in report["findings"]} >= {
        ("edited", 3), ("identity_changed", 1)}  # fmt: skip
    unknown = subprocess.run([*command, "--run", "no-such-run"], capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert unknown.returncode == 4
    assert "no run 'no-such-run'" in unknown.stderr
