"""`tradefsm retention plan|apply`, `hold add|remove|list` and `audit verify --archive` as a
person types them, and `retention apply` killed (-9) between a bundle and the removal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from persistence import migrate
from persistence.engine import make_engine
from tests.audit.conftest import build_history
from tests.cli.conftest import Cli

APPLY = ("retention", "apply", "--older-than", "1d", "--archive", "archive", "--actor", "ops-ann",
         "--reason", "past retention")  # fmt: skip
VERIFY = ("audit", "verify", "--digests", "digests", "--public-key", "keys/tradefsm-audit.pub",
          "--archive", "archive")  # fmt: skip


@pytest.fixture
def old_runs(signing: Cli, tmp_path: Path) -> Cli:
    """Three runs that ended on a past trading day (alpha, beta, gamma), sealed."""
    url = signing.env["TRADEFSM_DB"]
    migrate.upgrade(make_engine(url))
    build_history(url, tmp_path)
    signing("audit", "seal")
    return signing


def test_bad_ages_are_refused_in_one_line(old_runs: Cli) -> None:
    for age in ("6x", "0d", "-1y", "six years"):
        done = old_runs("retention", "plan", "--older-than", age, code=2)
        assert done.stderr.count("\n") == 1
        assert "is not an age" in done.stderr


def test_plan_hold_apply_and_verify(old_runs: Cli) -> None:
    assert old_runs.json("retention", "plan", "--older-than", "1d", "--format", "json") != []
    assert old_runs.json("retention", "plan", "--older-than", "100y", "--format", "json") == []
    held = old_runs("hold", "add", "--account", "beta", "--actor", "legal-lee", "--reason", "case")
    assert "account beta held by legal-lee" in held.stdout
    old_runs("hold", "add", "--account", "beta", "--run", "x", "--reason", "both", code=2)
    plan = old_runs.json("retention", "plan", "--older-than", "1d", "--format", "json")
    assert {r["run_id"]: r["held"] for r in plan} == {
        "run_alpha0002": None, "run_gamma0002": None,
        "run_beta0002": "legal hold on its account"}  # fmt: skip
    applied = old_runs(*APPLY)
    assert "archived run_alpha0002, bundle " in applied.stderr  # progress as it goes
    assert "2 run(s) archived to archive, 1 left" in applied.stdout
    verified = old_runs(*VERIFY)
    assert "run run_alpha0002: archived, bundle " in verified.stdout
    assert ": intact" in verified.stdout
    one = old_runs.json("audit", "verify", "--run", "alpha0002", "--json")
    assert list(one["archived"]) == ["run_alpha0002"]
    assert one["ok"]
    old_runs("audit", "seal")
    assert old_runs.json(*VERIFY, "--json")["ok"]
    offline = old_runs("audit", "verify-bundle", "archive/run_alpha0002", "--public-key",
                       "keys/tradefsm-audit.pub")  # fmt: skip
    assert "intact" in offline.stdout
    (old_runs.folder / "archive" / "run_gamma0002" / "run.json").unlink()
    broken = old_runs(*VERIFY, code=8)
    assert "run_gamma0002: archive_changed" in broken.stderr
    hold_rows = old_runs.json("hold", "list", "--format", "json")
    assert [(r["action"], r["account_id"]) for r in hold_rows] == [("hold", "beta")]


def test_apply_killed_after_a_bundle_is_completed_by_a_rerun(old_runs: Cli) -> None:
    """Killed after the first bundle was written and verified, before its run was removed:
    the run is whole and verify intact; apply again keeps that bundle and removes the run."""
    killed = subprocess.run(
        [sys.executable, "-m", "fsm", *APPLY], capture_output=True, text=True, timeout=120,
        env=old_runs.env | {"TRADEFSM_FAILPOINTS": "retention.bundled"}, cwd=old_runs.folder,
        check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    first = old_runs.folder / "archive" / "run_gamma0002"  # newest first
    assert (first / "manifest.json").is_file()
    assert len(old_runs.json("runs", "list", "--format", "json")) == 3
    assert old_runs.json(*VERIFY, "--json")["archived"] == {}
    files = {p.name: p.read_bytes() for p in first.iterdir()}
    old_runs(*APPLY)
    assert {p.name: p.read_bytes() for p in first.iterdir()} == files
    report = old_runs.json(*VERIFY, "--json")
    assert report["ok"]
    assert set(report["archived"]) == {"run_alpha0002", "run_beta0002", "run_gamma0002"}
    assert [p.name for p in (old_runs.folder / "archive").iterdir() if p.name.startswith(".")] == []


def test_an_existing_other_bundle_is_not_overwritten(old_runs: Cli) -> None:
    other = old_runs.folder / "archive" / "run_gamma0002"
    other.mkdir(parents=True)
    (other / "manifest.json").write_text(json.dumps({"format": "something else"}))
    refused = old_runs(*APPLY, code=8)
    assert "exists and is another bundle" in refused.stderr
    assert len(old_runs.json("runs", "list", "--format", "json")) == 3
