"""`audit export --bundle` and `audit verify-bundle`: one run's evidence, checked offline."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fsm import bundle
from fsm.keyfiles import load_public_key
from tests.cli.conftest import Cli, one_line_error

Edit = Callable[[Any], Any]


@pytest.fixture
def exported(signing: Cli) -> tuple[Cli, Path, str]:
    signing("run", "--account", "other")  # two runs: the proof has a path
    run_id = signing.json("run", "--json")["run_id"]
    done = signing("audit", "export", "--run", run_id, "--bundle", "evidence")
    assert "evidence bundle of run" in done.stdout
    return signing, signing.folder / "evidence", run_id


def _public(cli: Cli) -> str:
    return str(cli.folder / "keys" / "tradefsm-audit.pub")


def test_an_exported_bundle_verifies_offline(exported: tuple[Cli, Path, str]) -> None:
    cli, folder, run_id = exported
    names = {p.name for p in folder.iterdir()}
    assert {"manifest.json", "proof.json", "digest-00000002.json", *bundle.RECORDS} <= names
    assert json.loads((folder / "intents.json").read_text())  # the run placed orders
    assert json.loads((folder / "manifest.json").read_text())["run_id"] == run_id
    del cli.env["TRADEFSM_DB"]  # no database at all
    done = cli("audit", "verify-bundle", str(folder), "--public-key", _public(cli))
    assert "intact" in done.stdout


def _row(name: str, index: int, field: str, value: object) -> tuple[str, Edit]:
    def edit(rows: Any) -> Any:
        (rows if isinstance(rows, dict) else rows[index])[field] = value
        return rows

    return name, edit


def _proof_path(proof: Any) -> Any:
    proof["path"][0] = "00" * 32
    return proof


TAMPERED: list[tuple[tuple[str, Edit], str]] = [
    (_row("manifest.json", 0, "key_id", "0" * 16), "bad_signature"),
    (_row("run.json", 0, "account_id", "other"), "identity_changed"),
    (_row("ledger.json", 2, "actor", "mallory"), "edited"),
    (_row("checkpoints.json", 0, "schema_version", 7), "checkpoint_changed"),
    (_row("intents.json", 0, "qty", "999"), "intent_changed"),
    (_row("intent_events.json", 0, "status", "cancelled"), "intent_changed"),
    (_row("definition.json", 0, "canonical", "{}"), "definition_changed"),
    (("proof.json", _proof_path), "unsealed"),
    (_row("digest-00000002.json", 0, "runs_total", 5), "bad_signature"),
]


@pytest.mark.parametrize(("edit", "kind"), TAMPERED, ids=[c[0][0] for c in TAMPERED])
def test_tampering_with_each_file_is_found(
    exported: tuple[Cli, Path, str], tmp_path: Path, edit: tuple[str, Edit], kind: str
) -> None:
    cli, folder, _ = exported
    copy = shutil.copytree(folder, tmp_path / "copy")
    name, change = edit
    path = copy / name
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    found = bundle.verify(copy, [load_public_key(Path(_public(cli)))])
    assert kind in {f.kind for f in found}, found


def test_a_tampered_bundle_exits_8_and_bad_input_exits_2(
    exported: tuple[Cli, Path, str], tmp_path: Path
) -> None:
    cli, folder, _ = exported
    (folder / "ledger.json").unlink()
    tampered = cli("audit", "verify-bundle", str(folder), "--public-key", _public(cli), code=8)
    assert "TAMPERED" in tampered.stdout
    assert "ledger.json" in tampered.stderr
    missing = cli("audit", "verify-bundle", str(tmp_path), "--public-key", _public(cli), code=2)
    assert one_line_error(missing)
    not_key = cli("audit", "verify-bundle", str(folder), "--public-key", str(folder / "run.json"),
                  code=2)  # fmt: skip
    assert "Traceback" not in not_key.stderr


def test_export_refuses_a_run_changed_since_the_newest_digest(signing: Cli) -> None:
    run_id = signing.json("run", "--json")["run_id"]
    del signing.env["TRADEFSM_AUDIT_SIGNING_KEY"]  # the next run is not sealed
    other = signing.json("run", "--account", "later", "--json")["run_id"]
    refused = signing("audit", "export", "--run", other, "--bundle", "b", code=2)
    assert "audit seal" in one_line_error(refused)
    signing("audit", "export", "--run", run_id, "--bundle", "b")
    again = signing("audit", "export", "--run", run_id, "--bundle", "b", code=2)
    assert "not an empty folder" in one_line_error(again)
