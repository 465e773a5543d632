"""The verifier recipe of docs/audit-integrity.md, written from the documented canonical forms
alone, reproduces every hash tradefsm writes, and finds the same tampering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from sqlalchemy import text

from fsm.keyfiles import generate_keys, load_private_key
from persistence import append_only
from tests.audit.conftest import History, sqlite_path
from tests.conftest import TRADING_DAY


def test_the_recipe_verifies_real_runs(sqlite_history: History, recipe: dict[str, Any]) -> None:
    for run in (sqlite_history.done, sqlite_history.refused, sqlite_history.dry):
        assert recipe["verify_run"](sqlite_path(sqlite_history), run.run_id) == []


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE ledger SET actor = 'mallory' WHERE seq = 3", "ledger row 3"),
        ("UPDATE runs SET account_id = 'other'", "identity"),
        ("UPDATE order_intents SET qty = '999'", "order "),
        ("UPDATE checkpoints SET schema_version = 7 WHERE seq = 4", "checkpoint 4"),
    ],
)
def test_the_recipe_finds_tampering(
    sqlite_history: History, recipe: dict[str, Any], statement: str, problem: str
) -> None:
    with sqlite_history.store.engine.begin() as conn:
        append_only.drop(conn, ("ledger", "checkpoints"))
        conn.execute(text(statement))
    found = recipe["verify_run"](sqlite_path(sqlite_history), sqlite_history.done.run_id)
    assert any(p.startswith(problem) for p in found), found


def test_the_recipe_checks_a_digest_file(
    sqlite_history: History, recipe: dict[str, Any], tmp_path: Path
) -> None:
    private, public = generate_keys(tmp_path / "keys")
    document = sqlite_history.audit.seal(load_private_key(private), TRADING_DAY, tmp_path / "d")
    path = tmp_path / "d" / "digest-00000001.json"
    body = recipe["verify_digest_file"](path, public.read_bytes())
    assert [r[0] for r in body["runs"]] == sorted(r[0] for r in document["runs"])
    forged = json.loads(path.read_text()) | {"runs_total": 0}
    path.write_text(json.dumps(forged))
    with pytest.raises(InvalidSignature):
        recipe["verify_digest_file"](path, public.read_bytes())
