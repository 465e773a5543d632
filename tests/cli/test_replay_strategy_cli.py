"""`tradefsm replay --strategy`: the runs planned again by another strategy on their recorded
prices and account. The same strategy changes nothing; other weights change the orders
exactly as running again with them does; a strategy needing unrecorded data is not replayed;
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, one_line_error

CASH = {"small": "10000", "large": "160000"}
STRATEGY = "sixty-forty"
OTHER_WEIGHTS = '[sixty-forty]\nweights = { SPY = "0.3", BND = "0.5" }\n'
CHANGES = 13
DOC = Path(__file__).parents[2] / "docs" / "change-management.md"


def _run(cli: Cli, account: str, *args: str) -> dict[str, Any]:
    """A done paper run of ``account`` from its starting cash, with sixty-forty."""
    cli("paper", "reset", "--account", account, "--cash", CASH[account])
    done = subprocess.run([sys.executable, "-m", "fsm", "run", "--account", account,
                           "--strategy", STRATEGY, *args, "--json"], capture_output=True,
                          text=True, env=cli.env, cwd=cli.folder, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run: dict[str, Any] = json.loads(done.stdout)
    assert run["state"] == "done"
    return run


def _orders(cli: Cli, run_id: str) -> dict[str, tuple[str, str]]:
    """The orders the run planned: symbol → (side, qty), from its plan checkpoint."""
    shown = cli.json("runs", "show", run_id, "--format", "json")
    (plan,) = [c["output"] for c in shown["checkpoints"] if c["state"] == "planning"]
    return {i["symbol"]: (i["action"], i["qty"]) for i in plan["items"] if i["action"] != "HOLD"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def recorded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Cli, dict[str, Any]]:
    cli = Cli(tmp_path / "history")
    cli.folder.mkdir()
    if request.param == "postgresql":
        cli.env["TRADEFSM_DB"] = request.getfixturevalue("pg_cluster").new_database()
    cli("db", "upgrade")
    return cli, {account: _run(cli, account) for account in CASH}


def test_the_same_strategy_changes_no_plan_and_other_weights_change_them(
    recorded: tuple[Cli, dict[str, Any]],
) -> None:
    cli, _ = recorded
    same = cli.json("replay", "--strategy", STRATEGY, "--json")
    assert same["plan_summary"] == {"runs": 2, "replayed": 2, "not_replayed": 0,
                                    "plans_changed": 0, "guards_changed": 0}  # fmt: skip
    (cli.folder / "tradefsm.toml").write_text(OTHER_WEIGHTS, encoding="utf-8")
    other = cli.json("replay", "--strategy", STRATEGY, "--json", code=CHANGES)
    assert other["plan_summary"]["plans_changed"] == 2
    for plan in other["plans"]:
        assert (plan["added"], plan["removed"]) == ([], [])
        assert {c["symbol"] for c in plan["changed"]} == {"SPY", "BND"}
        spy = next(c for c in plan["changed"] if c["symbol"] == "SPY")
        assert float(spy["now"]["qty"]) < float(spy["was"]["qty"])  # 30 % of SPY, not 60 %
    text = cli("replay", "--strategy", STRATEGY, code=CHANGES).stdout
    assert "2 plan(s) of 2 run(s) would change" in text


def test_the_prediction_is_what_running_again_with_the_new_weights_plans(
    tmp_path: Path,
) -> None:
    cli = Cli(tmp_path / "history")
    cli.folder.mkdir()
    cli.upgrade()
    run = _run(cli, "large")
    (cli.folder / "tradefsm.toml").write_text(OTHER_WEIGHTS, encoding="utf-8")
    (plan,) = cli.json("replay", "--strategy", STRATEGY, "--json", code=CHANGES)["plans"]
    predicted = {c["symbol"]: (c["now"]["side"], c["now"]["qty"]) for c in plan["changed"]}

    again = Cli(tmp_path / "again")  # a fresh database, the same account, day and weights
    again.folder.mkdir()
    again.upgrade()
    (again.folder / "tradefsm.toml").write_text(OTHER_WEIGHTS, encoding="utf-8")
    fresh = _run(again, "large", "--as-of", run["as_of"])
    assert _orders(again, fresh["run_id"]) == predicted


def test_plan_guard_decisions_of_the_new_plan_and_the_csv(
    recorded: tuple[Cli, dict[str, Any]],
) -> None:
    cli, runs = recorded
    (cli.folder / "tradefsm.toml").write_text(OTHER_WEIGHTS, encoding="utf-8")
    # The recorded large plan buys about $94k of SPY; the new one buys about $78k of BND.
    for limit, refused in (
        ("90000", []),
        ("70000", [("order_notional_limit", "passed", "refused")]),
    ):
        report = cli.json("replay", "--strategy", STRATEGY, "--set", f"max_order_notional={limit}",
                          "--json", code=CHANGES)  # fmt: skip
        assert {c["run_id"] for c in report["changes"]} == {runs["large"]["run_id"]}  # old plan
        plans = {p["account_id"]: p for p in report["plans"]}
        assert [(g["guard"], g["was"], g["now"]) for g in plans["large"]["guards"]] == refused
        assert plans["small"]["guards"] == []
    rows = cli("replay", "--strategy", STRATEGY, "--format", "csv", code=CHANGES).stdout
    assert rows.splitlines()[0] == "run_id,account_id,change,symbol,was,now,reason"
    assert sum(",changed,SPY,BUY " in r for r in rows.splitlines()) == 2


def test_a_strategy_needing_unrecorded_data_is_not_replayed(
    recorded: tuple[Cli, dict[str, Any]],
) -> None:
    cli, _ = recorded
    report = cli.json("replay", "--strategy", "demo-momentum", "--json")
    assert report["plan_summary"]["not_replayed"] == 2
    assert all("universe" in p["reason"] for p in report["plans"])
    (cli.folder / "tradefsm.toml").write_text(
        '[sixty-forty]\nweights = { SPY = "0.5", QQQ = "0.5" }\n', encoding="utf-8"
    )  # a symbol the runs recorded no price of: nothing is fetched
    rows = cli("replay", "--strategy", STRATEGY, "--format", "csv").stdout.splitlines()[1:]
    assert [r.split(",")[2:] for r in rows] == [
        ["not_replayed", "", "", "", "no recorded price of QQQ"]
    ] * 2
    line = one_line_error(cli("replay", "--strategy", "nonesuch", code=2))
    assert line.startswith("error: no strategy plugin named 'nonesuch' is installed")


def test_the_documented_command(recorded: tuple[Cli, dict[str, Any]]) -> None:
    cli, _ = recorded
    text = DOC.read_text(encoding="utf-8")
    (command,) = re.findall(r"\n    (tradefsm replay --strategy .*)\n", text)
    (cli.folder / "tradefsm.toml").write_text(OTHER_WEIGHTS, encoding="utf-8")
    done = subprocess.run(command.replace("tradefsm", f"{sys.executable} -m fsm", 1), shell=True,
                          cwd=cli.folder, env=cli.env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == CHANGES, done.stderr
    assert "changed,SPY" in done.stdout
