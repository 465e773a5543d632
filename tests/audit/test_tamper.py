"""Tamper with a real database — triggers dropped first — and `audit verify` names the row."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from fsm.ledger import seal
from persistence import append_only
from persistence.errors import HistoryIsAppendOnly, translate_errors
from persistence.mapping import ledger_row
from persistence.tables import ledger
from tests.audit.conftest import History

HISTORY_TABLES = ("ledger", "checkpoints", "step_attempts", "intent_events")


def _sql(history: History, statement: str, **params: Any) -> None:
    with history.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _without_triggers(history: History) -> None:
    with history.store.engine.begin() as conn:
        append_only.drop(conn, HISTORY_TABLES)


def edit(history: History, run: str) -> None:
    _sql(history, "UPDATE ledger SET actor = 'mallory' WHERE run_id = :r AND seq = 3", r=run)


def delete_middle(history: History, run: str) -> None:
    _sql(history, "DELETE FROM ledger WHERE run_id = :r AND seq = 3", r=run)


def delete_last(history: History, run: str) -> None:
    _sql(history, "DELETE FROM ledger WHERE run_id = :r AND seq = 6", r=run)


def reorder(history: History, run: str) -> None:
    _sql(history, "UPDATE ledger SET seq = 100 WHERE run_id = :r AND seq = 3", r=run)
    _sql(history, "UPDATE ledger SET seq = 3 WHERE run_id = :r AND seq = 4", r=run)
    _sql(history, "UPDATE ledger SET seq = 4 WHERE run_id = :r AND seq = 100", r=run)


def insert_middle(history: History, run: str) -> None:
    for seq in (6, 5, 4, 3):
        _sql(history, "UPDATE ledger SET seq = :n WHERE run_id = :r AND seq = :o",
             r=run, o=seq, n=seq + 1)  # fmt: skip
    _sql(history, "INSERT INTO ledger SELECT run_id, 3, 'forged', source, target, accepted, "
         "guards, actor, correlation_id, causation_id, occurred_at, duration_ms, attempt, "
         "error_type, error_message, prev_hash, hash FROM ledger WHERE run_id = :r AND seq = 2",
         r=run)  # fmt: skip


def append_forged(history: History, run: str) -> None:
    """A careful forger: a well-chained row after the head, but the run row keeps the head."""
    last = history.store.ledger(run)[-1]
    forged = seal(last.hash, **last.model_dump(exclude={"hash", "prev_hash"}) | {"seq": 7})
    with history.store.engine.begin() as conn:
        conn.execute(ledger.insert(), ledger_row(forged))


CASES: list[tuple[Callable[[History, str], None], int]] = [
    (edit, 3), (delete_middle, 3), (delete_last, 6), (reorder, 3), (insert_middle, 3),
    (append_forged, 7),
]  # fmt: skip


@pytest.mark.parametrize(("tamper", "seq"), CASES, ids=[c[0].__name__ for c in CASES])
def test_verify_names_the_first_tampered_row(
    history: History, tamper: Callable[[History, str], None], seq: int
) -> None:
    assert history.audit.verify().ok
    _without_triggers(history)
    victim = history.done.run_id
    tamper(history, victim)
    report = history.audit.verify()
    assert not report.ok
    assert [(f.run_id, f.seq) for f in report.findings] == [(victim, seq)]
    assert history.audit.verify(history.refused.run_id).ok  # other runs are untouched


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_history_tables_refuse_update_and_delete(history: History, table: str) -> None:
    for statement in (f"UPDATE {table} SET run_id = run_id", f"DELETE FROM {table}"):
        with pytest.raises(HistoryIsAppendOnly), translate_errors():
            _sql(history, statement)


def test_verify_from_the_command_line(sqlite_history: History) -> None:
    history = sqlite_history
    command = [sys.executable, "-m", "fsm", "audit", "verify", "--db", history.url]
    intact = subprocess.run(command, capture_output=True, text=True, check=False)
    assert intact.returncode == 0
    assert "intact" in intact.stdout
    _without_triggers(history)
    edit(history, history.done.run_id)
    tampered = subprocess.run(command, capture_output=True, text=True, check=False)
    assert tampered.returncode == 8
    assert f"run {history.done.run_id}: seq 3:" in tampered.stderr
