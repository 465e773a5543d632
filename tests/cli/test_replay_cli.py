"""`tradefsm replay` over a recorded history: it names exactly the runs a lowered notional
limit would have refused, as running them again under that limit shows; SQLite and
PostgreSQL; JSON, CSV and the CI exit code; one line for a bad option."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.cli.test_postgres_roles import Deployment
from tests.postgres_cluster import PostgresCluster

CASH = {"small": "10000", "mid": "40000", "large": "160000", "huge": "640000"}
LOWERED = "max_order_notional=15000"
CHANGES = 13
DOC = Path(__file__).parents[2] / "docs" / "change-management.md"


def _run(cli: Cli, account: str) -> tuple[int, dict[str, Any]]:
    """A paper run of ``account`` from its starting cash: exit code and the run's JSON."""
    cli("paper", "reset", "--account", account, "--cash", CASH[account])
    done = subprocess.run([sys.executable, "-m", "fsm", "run", "--account", account, "--json"],
                          capture_output=True, text=True, env=cli.env, cwd=cli.folder,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _history(cli: Cli) -> dict[str, str]:
    """One done paper run per account, bigger plans for richer accounts: account → run id."""
    cli("db", "upgrade")
    runs = {}
    for account in CASH:
        code, run = _run(cli, account)
        assert (code, run["state"]) == (0, "done")
        runs[account] = run["run_id"]
    return runs


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def recorded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Cli, dict[str, str]]:
    cli = Cli(tmp_path / "history")
    cli.folder.mkdir()
    if request.param == "postgresql":
        cli.env["TRADEFSM_DB"] = request.getfixturevalue("pg_cluster").new_database()
    return cli, _history(cli)


def test_replay_names_exactly_the_runs_a_lowered_limit_refuses_again(
    recorded: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, runs = recorded
    report = cli.json("replay", "--set", LOWERED, "--json", code=CHANGES)
    would_refuse = {c["account_id"] for c in report["changes"]}
    assert would_refuse == {"large", "huge"}
    assert {(c["guard"], c["was"], c["now"], c["event"]) for c in report["changes"]} == {
        ("order_notional_limit", "passed", "refused", "plan_approved")}  # fmt: skip
    assert {c["run_id"] for c in report["changes"]} == {runs["large"], runs["huge"]}
    summary = report["summary"]
    assert (summary["runs"], summary["runs_changed"], summary["would_refuse"]) == (4, 2, 2)

    again = Cli(tmp_path / "again")  # the same runs again, under the lowered limit
    again.folder.mkdir()
    again("db", "upgrade")
    again("policy", "set", LOWERED, "--actor", "risk-ann", "--reason", "lower")
    refused = set()
    for account in CASH:
        code, run = _run(again, account)
        if code == 1:
            assert "order_notional_limit" in run["failure"]["message"]
            refused.add(account)
    assert refused == would_refuse


def test_nothing_changes_under_the_policy_in_force_exit_0(
    recorded: tuple[Cli, dict[str, str]],
) -> None:
    cli, _ = recorded
    report = cli.json("replay", "--set", "max_order_notional=1000000", "--json")
    assert report["changes"] == []
    assert report["summary"]["runs"] == 4
    assert report["summary"]["replayed"] > 0
    assert "0 decision(s) of 0 run(s) would change" in cli("replay").stdout


def test_filters_formats_and_a_policy_file(
    recorded: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, runs = recorded
    one = cli.json("replay", "--set", LOWERED, "--account", "huge", "--json", code=CHANGES)
    assert [c["run_id"] for c in one["changes"]] == [runs["huge"]]
    assert cli.json("replay", "--set", LOWERED, "--since", "2999-01-01", "--json")["changes"] == []
    policy = tmp_path / "lower.toml"
    policy.write_text("[accounts.large]\nmax_order_notional = 15000\n", encoding="utf-8")
    by_file = cli.json("replay", "--policy", str(policy), "--format", "json", code=CHANGES)
    assert [c["account_id"] for c in by_file["changes"]] == ["large"]
    rows = list(csv.DictReader(io.StringIO(cli("replay", "--set", LOWERED, "--format", "csv",
                                               code=CHANGES).stdout)))  # fmt: skip
    assert {r["run_id"] for r in rows} == {runs["large"], runs["huge"]}
    assert json.loads(rows[0]["inputs"])["limit"] == "1000000"
    text = cli("replay", "--set", LOWERED, code=CHANGES).stdout
    assert "2 decision(s) of 2 run(s) would change" in text
    assert "2 would refuse, 0 would pass" in text
    waits = cli.json("replay", "--set", "approval_notional=1000", "--json", code=CHANGES)
    assert {(c["guard"], c["event"], c["now"]) for c in waits["changes"]} == {
        ("approval_not_needed", "plan_approved", "refused")}  # fmt: skip
    assert waits["summary"]["runs_changed"] == 4  # every plan would have waited for approval
    tighter = {"TRADEFSM_MAX_ORDER_NOTIONAL": "15000"}  # settings tighten the proposal
    assert len(cli.json("replay", "--json", code=CHANGES, env_extra=tighter)["changes"]) == 2
    cli("policy", "set", LOWERED, "--actor", "risk-ann", "--reason", "lower")
    in_force = cli.json("replay", "--json", code=CHANGES)  # no proposal: the policy in force
    assert {c["run_id"] for c in in_force["changes"]} == {runs["large"], runs["huge"]}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--set", "max_orders"), "error: 'max_orders' is not KEY=VALUE"),
        (("--set", "max_order_notional=-5"), "error: policy max_order_notional='-5': Input"),
        (("--set", "nonsense=1"), "error: unknown policy key 'nonsense'"),
        (("--policy", "missing.toml"), "error: cannot read policy file missing.toml"),
        (("--since", "yesterday"), "error: --since 'yesterday': not a day"),
        (("--policy", "p.toml", "--set", "max_orders=5"), "error: give the proposed change"),
    ],
)
def test_a_bad_option_is_one_line_exit_2(cli: Cli, args: tuple[str, ...], line: str) -> None:
    (cli.folder / "p.toml").write_text("max_orders = 5\n", encoding="utf-8")
    assert one_line_error(cli("replay", *args, code=2)).startswith(line)  # no database read
    cli("db", "upgrade")
    assert one_line_error(cli("replay", *args, code=2)).startswith(line)


def test_the_ci_recipe_fails_on_a_change_and_passes_without(ready: Cli) -> None:
    ready("run", "--account", "fund")
    (block,) = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    env = ready.env | {
        "ARCHIVE": str(ready.folder),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for limit, code, said in (("1", 13, "recorded decisions would change"),
                              ("1000000", 0, "no recorded decision would change")):  # fmt: skip
        (ready.folder / "proposed.toml").write_text(f"max_order_notional = {limit}\n", "utf-8")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ready.folder,
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert (done.returncode, said in done.stdout) == (code, True), done.stderr
        assert ("order_notional_limit" in done.stdout) == (code == CHANGES)  # the CSV shown


@pytest.mark.postgres
def test_replay_on_postgresql_needs_no_more_than_the_auditor_may(
    pg_cluster: PostgresCluster, cli: Cli
) -> None:
    deployment = Deployment(pg_cluster, cli)  # roles that may only do their duty
    deployment.as_("owner", "db", "upgrade")
    deployment.as_("owner", "db", "grants", "--runtime", "tradefsm_runtime", "--sealer",
                   "tradefsm_sealer", "--auditor", "tradefsm_auditor", "--apply")  # fmt: skip
    ran = json.loads(deployment.as_("runtime", "run", "--account", "fund", "--json").stdout)
    done = deployment.as_("auditor", "replay", "--set", "max_order_notional=1000", "--json",
                          code=CHANGES)  # fmt: skip
    assert {c["run_id"] for c in json.loads(done.stdout)["changes"]} == {ran["run_id"]}
