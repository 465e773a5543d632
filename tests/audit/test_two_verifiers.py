"""Two verifiers, one answer: tradefsm's `audit verify` and the independent reference
verifier of docs/reference_verifier.py agree on intact databases and on every tamper case."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fsm.digests import Anchors
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from tests.audit.conftest import REFERENCE, History, sqlite_path
from tests.audit.test_membership import LATER, backdated_run
from tests.audit.test_tamper import ANCHORED, DETECTED, Tamper, _without_triggers


def _named(problems: list[str]) -> set[str]:
    return {p.split(":")[0].removeprefix("run ") for p in problems if p.startswith("run ")}


def test_the_reference_verifier_imports_nothing_of_tradefsm() -> None:
    tree = ast.parse(REFERENCE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}  # fmt: skip
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
    assert imported <= {"base64", "hashlib", "json", "sqlite3", "sys", "pathlib", "cryptography"}


@pytest.mark.parametrize(("tamper", "expected"), DETECTED, ids=[c[0].__name__ for c in DETECTED])
def test_both_verifiers_agree_on_each_change(
    sqlite_history: History, recipe: dict[str, Any], tamper: Tamper, expected: object
) -> None:
    path, victim = sqlite_path(sqlite_history), sqlite_history.done.run_id
    assert recipe["verify_database"](path) == []
    assert sqlite_history.audit.verify().ok
    _without_triggers(sqlite_history)
    tamper(sqlite_history, victim)
    ours = sqlite_history.audit.verify()
    theirs = recipe["verify_database"](path)
    assert not ours.ok
    assert theirs, ours.findings
    if victim in {f.run_id for f in ours.findings}:
        assert victim in _named(theirs), theirs


@pytest.fixture
def sealed(sqlite_history: History, tmp_path: Path) -> tuple[Anchors, Any, bytes]:
    private, public = generate_keys(tmp_path / "keys")
    key = load_private_key(private)
    sqlite_history.audit.seal(key, LATER, tmp_path / "digests")
    return Anchors(tmp_path / "digests", (load_public_key(public),)), key, public.read_bytes()


def _both(history: History, recipe: dict[str, Any], anchors: Anchors, pem: bytes) -> tuple[
    Any, list[str]
]:  # fmt: skip
    theirs = recipe["verify_database"](sqlite_path(history), anchors.folder, [pem])
    return history.audit.verify(anchors=anchors), theirs


def _ghost(history: History, run: str) -> None:
    """A real run inserted behind the digests' back, dated before the newest digest."""
    backdated_run(history, Path(sqlite_path(history)).parent, "ghost")


@pytest.mark.parametrize(
    "tamper", [*(c[0] for c in ANCHORED), _ghost], ids=[*(c[0].__name__ for c in ANCHORED), "ghost"]
)
def test_both_verifiers_agree_with_digests(
    sqlite_history: History, recipe: dict[str, Any], sealed: tuple[Anchors, Any, bytes],
    tamper: Tamper,
) -> None:  # fmt: skip
    anchors, _, pem = sealed
    ours, theirs = _both(sqlite_history, recipe, anchors, pem)
    assert (ours.ok, theirs) == (True, [])
    _without_triggers(sqlite_history)
    tamper(sqlite_history, sqlite_history.done.run_id)
    ours, theirs = _both(sqlite_history, recipe, anchors, pem)
    assert not ours.ok
    assert theirs, ours.findings
    named = {f.run_id for f in ours.findings if f.run_id}
    assert named <= _named(theirs), (ours.findings, theirs)


def test_both_verifiers_refuse_a_forged_digest_and_run_as_a_program(
    sqlite_history: History, recipe: dict[str, Any], sealed: tuple[Anchors, Any, bytes]
) -> None:
    anchors, key, pem = sealed
    sqlite_history.audit.seal(key, LATER + timedelta(minutes=1), anchors.folder)
    last = anchors.folder / "digest-00000002.json"
    last.write_text(last.read_text().replace('"runs_total":3', '"runs_total":4'))
    ours, theirs = _both(sqlite_history, recipe, anchors, pem)
    assert "bad_signature" in {f.kind for f in ours.findings}
    assert "digest file digest-00000002.json signature" in theirs
    public = anchors.folder.parent / "keys" / "tradefsm-audit.pub"
    done = subprocess.run([sys.executable, str(REFERENCE), sqlite_path(sqlite_history),
                           "--digests", str(anchors.folder), "--public-key", str(public)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 8
    assert "digest-00000002.json" in done.stdout
