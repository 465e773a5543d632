"""Inputs that used to stop `audit verify` with a traceback or a hang: malformed or special
digest files, a missing digest folder or key file, stored values that cannot be decoded, and
`audit seal` over a digests table that was emptied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm.console.app import Console
from fsm.digests import Anchors
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from persistence.store import SqlRunStore
from tests.audit.conftest import History
from tests.audit.test_tamper import _sql, _triggers_back, _without_triggers
from tests.cli.conftest import one_line_error
from tests.conftest import TRADING_DAY

SECOND = "digest-00000002.json"


def _anchors(history: History, folder: Path) -> Anchors:
    private, public = generate_keys(folder / "keys")
    history.audit.seal(load_private_key(private), TRADING_DAY, folder / "digests")
    return Anchors(folder / "digests", (load_public_key(public),))


@pytest.fixture
def sealed(sqlite_history: History, tmp_path: Path) -> tuple[History, Anchors]:
    return sqlite_history, _anchors(sqlite_history, tmp_path)


def _cli(
    *args: str, code: int, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "fsm", *args], capture_output=True, text=True, timeout=timeout,
        check=False, env={k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")}
        | env,
    )  # fmt: skip
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def _verify_args(history: History, anchors: Anchors) -> list[str]:
    public = anchors.folder.parent / "keys" / "tradefsm-audit.pub"
    return ["audit", "verify", "--db", history.url, "--digests", str(anchors.folder),
            "--public-key", str(public)]  # fmt: skip


@pytest.mark.parametrize(
    "content",
    ["[]", '{"n": "two", "runs": 5, "runs_total": "x", "key_id": 7}', "{", "[" * 100_000],
    ids=["list", "wrong-types", "truncated", "deep"],
)
def test_a_malformed_digest_file_is_a_finding_for_it(
    sealed: tuple[History, Anchors], content: str
) -> None:
    history, anchors = sealed
    (anchors.folder / SECOND).write_text(content)
    report = history.audit.verify(anchors=anchors)
    assert {(f.kind, f.key) for f in report.findings} == {("bad_signature", SECOND)}
    console = Console(SqlRunStore(history.store.engine), history.audit, None, anchors)
    page = TestClient(console.app()).get("/verify?go=1")
    assert page.status_code == 200
    assert "TAMPERED: 1 finding(s)" in page.text


def test_a_digest_whose_signature_fails_is_never_used(sealed: tuple[History, Anchors]) -> None:
    history, anchors = sealed
    first = json.loads((anchors.folder / "digest-00000001.json").read_text())
    forged = first | {"n": 2, "runs": [[history.done.run_id, 6, "f" * 64]], "runs_total": 99}
    (anchors.folder / SECOND).write_text(json.dumps(forged))
    report = history.audit.verify(anchors=anchors)
    assert {(f.kind, f.key) for f in report.findings} == {("bad_signature", SECOND)}


def test_a_fifo_in_the_digest_folder_is_skipped_unopened(sealed: tuple[History, Anchors]) -> None:
    history, anchors = sealed
    os.mkfifo(anchors.folder / SECOND)
    done = _cli(*_verify_args(history, anchors), code=8, timeout=60)
    assert f"{SECOND}: bad_signature: not a regular file" in done.stderr


def test_a_missing_digest_folder_or_key_file_is_a_bad_option(
    sealed: tuple[History, Anchors], tmp_path: Path
) -> None:
    history, anchors = sealed
    args = _verify_args(history, anchors)
    typo = _cli(*args[:5], str(tmp_path / "typo"), *args[6:], code=2)
    assert "no digest folder" in one_line_error(typo)
    no_key = _cli(*args[:7], str(tmp_path / "missing.pub"), code=2)
    assert "missing.pub" in one_line_error(no_key)


def test_seal_refuses_in_one_line_when_the_digests_table_was_emptied(
    sealed: tuple[History, Anchors],
) -> None:
    history, anchors = sealed
    _without_triggers(history)
    _sql(history, "DELETE FROM digests")
    key = anchors.folder.parent / "keys" / "tradefsm-audit.key"
    done = _cli("audit", "seal", "--db", history.url, "--out", str(anchors.folder), code=8,
                TRADEFSM_AUDIT_SIGNING_KEY=str(key))  # fmt: skip
    assert "refusing to seal" in one_line_error(done)
    assert sorted(p.name for p in anchors.folder.iterdir()) == ["digest-00000001.json"]


DEEP = "[" * 1000 + "]" * 1000
HUGE = '{"n": 1' + "0" * 5000 + "}"
STORED = [
    ("params", "runs", "params", DEEP, {"identity_changed"}),
    ("params-huge", "runs", "params", HUGE, {"identity_changed"}),
    ("result", "runs", "result", HUGE, {"outcome_changed"}),
    ("result-deep", "runs", "result", DEEP, {"outcome_changed"}),
    ("failure-deep", "runs", "failure", DEEP, {"outcome_changed"}),
    ("failure-huge", "runs", "failure", HUGE, {"outcome_changed"}),
    ("failure-json-null", "runs", "failure", "null", {"outcome_changed"}),
    ("result-json-null", "runs", "result", "null", {"outcome_changed"}),
]


@pytest.mark.parametrize(("name", "table", "column", "value", "kinds"), STORED,
                         ids=[c[0] for c in STORED])  # fmt: skip
def test_a_value_that_cannot_be_decoded_is_a_finding_for_its_run(
    history: History, name: str, table: str, column: str, value: str, kinds: set[str]
) -> None:
    _without_triggers(history)
    postgres = history.store.engine.dialect.name == "postgresql"
    cast = "CAST(:v AS jsonb)" if postgres else ":v"
    _sql(history, f"UPDATE {table} SET {column} = {cast} WHERE run_id = :r", v=value,
         r=history.done.run_id)  # fmt: skip
    _triggers_back(history)
    report = history.audit.verify()
    assert {f.run_id for f in report.findings} == {history.done.run_id}
    found = {f.kind for f in report.findings}
    assert kinds <= found, report.findings
    assert ("unreadable" in found) == (postgres and value != "null")


def test_an_infinite_time_is_a_finding_for_its_run(history: History) -> None:
    if history.store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores times as text: no infinite timestamp")
    _sql(history, "UPDATE order_intents SET updated_at = 'infinity' WHERE run_id = :r",
         r=history.done.run_id)  # fmt: skip
    report = history.audit.verify()
    assert {f.run_id for f in report.findings} == {history.done.run_id}
    assert {"unreadable", "intent_changed"} <= {f.kind for f in report.findings}


@pytest.mark.parametrize(
    ("column", "value"), [("document", DEEP), ("document", HUGE), ("created_at", "infinity")]
)
def test_a_digest_row_that_cannot_be_decoded_is_a_finding_for_it(
    history: History, tmp_path: Path, column: str, value: str
) -> None:
    postgres = history.store.engine.dialect.name == "postgresql"
    if column == "created_at" and not postgres:
        pytest.skip("SQLite stores times as text: no infinite timestamp")
    anchors = _anchors(history, tmp_path)
    _without_triggers(history)
    cast = "CAST(:v AS jsonb)" if postgres and column == "document" else ":v"
    _sql(history, f"UPDATE digests SET {column} = {cast}", v=value)
    _triggers_back(history)
    report = history.audit.verify(anchors=anchors)
    assert {(f.kind, f.key) for f in report.findings} == {
        ("digest_missing", "digest-00000001.json")}  # fmt: skip
