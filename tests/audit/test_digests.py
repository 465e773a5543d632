"""Signed digests as operators use them: keys, sealing after runs and by workers, verify."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from fsm.errors import InvalidConfiguration
from fsm.keyfiles import generate_keys
from persistence import append_only
from persistence import verify as verify_module
from persistence.engine import make_engine
from persistence.verify import verify
from tests.audit.conftest import History
from tests.cli.conftest import Cli


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    done = cli("audit", "keygen", "--out", "keys")
    private = tmp_path / "keys" / "tradefsm-audit.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in done.stdout + done.stderr  # named, never printed
    with pytest.raises(InvalidConfiguration, match="refusing to overwrite"):
        generate_keys(tmp_path / "keys")
    again = cli("audit", "keygen", "--out", "keys", code=2)
    assert "refusing to overwrite" in again.stderr


def _anchored(cli: Cli) -> dict[str, object]:
    public = str(cli.folder / "keys" / "tradefsm-audit.pub")
    return cli.json("audit", "verify", "--digests", str(cli.folder / "digests"), "--public-key",
                    public, "--json")  # fmt: skip


def test_run_seals_after_the_run_when_a_key_is_set(signing: Cli) -> None:
    run_id = signing.json("run", "--json")["run_id"]
    (digest,) = (signing.folder / "digests").glob("digest-*.json")
    sealed = json.loads(digest.read_text())["runs"]
    assert [r[0] for r in sealed] == [run_id]
    report = _anchored(signing)
    assert report["ok"] is True
    assert report["anchored"] is True
    assert report["not_detected"] is None


def test_a_worker_seals_what_it_drove(signing: Cli) -> None:
    queued = [signing("submit", "--account", f"w{n}").stdout.strip() for n in range(2)]
    signing("worker", "--idle-exit", "0.5")
    sealed = {r[0] for d in (signing.folder / "digests").glob("digest-*.json")
              for r in json.loads(d.read_text())["runs"]}  # fmt: skip
    assert set(queued) <= sealed
    assert _anchored(signing)["ok"] is True


def test_seal_without_a_key_says_how_to_get_one(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    done = cli("audit", "seal", "--out", "d", code=2)
    assert "TRADEFSM_AUDIT_SIGNING_KEY" in done.stderr
    assert "audit keygen" in done.stderr


def test_verify_split_across_processes_reads_through_a_read_only_engine(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "PARALLEL_MIN_RUNS", 1)
    reader = make_engine(history.url, read_only=True)
    split = verify(reader, workers=2)
    whole = verify(reader, workers=1)
    assert (split.runs, split.rows, split.ok) == (whole.runs, whole.rows, True)
    assert split.runs == 3


def test_a_worker_seals_every_period(signing: Cli) -> None:
    signing.env["TRADEFSM_AUDIT_SEAL_EVERY"] = "0.3"
    signing("submit", "--account", "p1")
    signing("worker", "--idle-exit", "1.5")
    assert len(list((signing.folder / "digests").glob("digest-*.json"))) >= 3  # periods + exit
    assert _anchored(signing)["ok"] is True


def test_anchored_verify_exits_8_naming_a_deleted_run(signing: Cli) -> None:
    run_id = signing.json("run", "--json")["run_id"]
    signing("run", "--account", "other")
    engine = make_engine(signing.env["TRADEFSM_DB"])
    with engine.begin() as conn:
        append_only.drop(conn, ("ledger", "checkpoints", "step_attempts", "intent_events"))
        for table in ("intent_events", "order_intents", "checkpoints", "step_attempts", "ledger",
                      "sealed_heads", "runs"):  # fmt: skip
            conn.execute(text(f"DELETE FROM {table} WHERE run_id = :r"), {"r": run_id})
        append_only.create(conn, ("ledger", "checkpoints", "step_attempts", "intent_events"))
        append_only.allow_archived_deletes(conn)  # as revision 0014 left them
    assert signing.json("audit", "verify", "--json")["ok"] is True  # the chain alone: blind
    public = str(signing.folder / "keys" / "tradefsm-audit.pub")
    report = signing.json("audit", "verify", "--digests", str(signing.folder / "digests"),
                          "--public-key", public, "--json", code=8)  # fmt: skip
    assert ("run_deleted", run_id) in {(f["kind"], f["run_id"]) for f in report["findings"]}


def test_keygen_refuses_when_either_file_of_the_pair_exists(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    for name in ("tradefsm-audit.key", "tradefsm-audit.pub"):
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir()
        (folder / name).write_text("kept")
        done = cli("audit", "keygen", "--out", str(folder), code=2)
        assert "refusing to overwrite" in done.stderr
        assert [p.name for p in folder.iterdir()] == [name]  # no half pair written
        assert (folder / name).read_text() == "kept"


def test_a_rotated_key_continues_the_chain_and_auditors_pass_both_keys(signing: Cli) -> None:
    signing("run")
    made = signing("audit", "keygen", "--out", "new").stdout
    signing.env["TRADEFSM_AUDIT_SIGNING_KEY"] = str(signing.folder / "new" / "tradefsm-audit.key")
    signing("run", "--account", "after-rotation")
    documents = [json.loads(d.read_text()) for d in
                 sorted((signing.folder / "digests").glob("digest-*.json"))]  # fmt: skip
    assert len({d["key_id"] for d in documents}) == 2  # each digest names its key
    assert f"key id {documents[1]['key_id']}" in made
    assert documents[1]["previous"]["digest_hash"] == documents[0]["digest_hash"]
    old, new = (str(signing.folder / f / "tradefsm-audit.pub") for f in ("keys", "new"))
    digests = str(signing.folder / "digests")
    both = signing.json("audit", "verify", "--digests", digests, "--public-key", old,
                        "--public-key", new, "--json")  # fmt: skip
    assert (both["ok"], both["digests"]) == (True, 2)
    only_new = signing.json("audit", "verify", "--digests", digests, "--public-key", new,
                            "--json", code=8)  # fmt: skip
    assert ("bad_signature", "digest-00000001.json") in {
        (f["kind"], f["key"]) for f in only_new["findings"]
    }
