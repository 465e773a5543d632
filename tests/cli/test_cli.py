"""The `tradefsm` command as a user runs it: a real process, real files, stdout and stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.days import day

RUN_KEYS = {"run_id", "state", "status", "account_id", "mode", "created_at", "updated_at"}
LEDGER_KEYS = {
    "seq", "event", "source", "target", "accepted", "actor", "occurred_at", "correlation_id",
    "causation_id", "process",
}  # fmt: skip


def test_a_fresh_database_is_refused_with_the_command_that_helps(cli: Cli) -> None:
    assert "tradefsm db upgrade" in one_line_error(cli("run", code=3))
    assert "tradefsm db upgrade" in one_line_error(cli("db", "current", code=3))
    empty = cli.folder / "empty.db"
    empty.touch()
    assert cli("db", "current", "--db", f"sqlite:///{empty}").stdout.startswith("empty")


def test_run_json_then_a_second_run_with_nothing_to_trade(ready: Cli) -> None:
    done = ready("run", "--json", "--correlation-id", "nightly-42")
    first = json.loads(done.stdout)
    assert {"run_id", "state", "status", "correlation_id", "transitions", "orders"} <= set(first)
    assert (first["state"], first["status"], first["correlation_id"]) == (
        "done",
        "done",
        "nightly-42",
    )
    assert first["orders"]
    assert {o["side"] for o in first["orders"]} == {"BUY"}
    assert set(first["transitions"][0]) >= LEDGER_KEYS
    logs = [json.loads(line) for line in done.stderr.splitlines()]  # JSON logs off a terminal
    transitions = [entry for entry in logs if entry["event"] == "transition"]
    assert len(transitions) == len(first["transitions"])
    assert {"run_id", "correlation_id", "causation_id", "state", "fsm_event", "duration_ms"} <= set(
        transitions[-1]
    )
    second = ready.json("run", "--json")
    assert (second["state"], second["orders"]) == ("done", [])

    paper = ready.json("paper", "orders", "--format", "json")
    assert len(paper) == len(first["orders"])
    assert {"client_order_id", "symbol", "side", "qty", "status"} <= set(paper[0])


def test_runs_list_and_show_give_the_documented_shapes(ready: Cli) -> None:
    run = ready.json("run", "--json", "--mode", "dry-run")
    listed = ready.json("runs", "list", "--format", "json")
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert set(listed[0]) >= RUN_KEYS
    csv_lines = ready("runs", "list", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("run_id,state,status,account_id,mode")
    assert csv_lines[1].startswith(run["run_id"])
    shown = ready.json("runs", "show", run["run_id"], "--format", "json")
    assert {"run", "requested_by", "ledger", "checkpoints", "orders", "attempts",
            "resume_policy", "awaiting_approval", "approvals", "cancel_requests",
            "pending_cancel", "halted"} == set(shown)  # fmt: skip
    assert (shown["cancel_requests"], shown["pending_cancel"], shown["halted"]) == ([], None, [])
    assert [row["event"] for row in shown["ledger"]][-1] == "plan_reported"
    assert set(shown["ledger"][-1]) >= LEDGER_KEYS
    assert shown["checkpoints"][-1]["state"] == "planning"
    table = ready("runs", "show", run["run_id"]).stdout
    assert "plan_reported" in table
    assert run["run_id"] in table
    assert ready.json("runs", "list", "--format", "json", "--mode", "paper") == []


def test_a_failed_run_exits_1_and_says_why(ready: Cli) -> None:
    done = ready("run", "--mode", "live", code=1)
    assert "GuardRejected" in done.stdout
    assert "mode_allowed" in done.stdout


def test_idempotency_key_returns_the_same_run(ready: Cli) -> None:
    a = ready.json("run", "--json", "--idempotency-key", "2026-11-27-open")
    b = ready.json("run", "--json", "--idempotency-key", "2026-11-27-open")
    assert a["run_id"] == b["run_id"]
    assert len(ready.json("runs", "list", "--format", "json")) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("runs", "list", "--db", "nonsense://"), 2, "database"),
        (("runs", "list", "--db", "sqlite:////no/such/dir/x.db"), 2, "does not exist"),
        (("runs", "show", "run_missing"), 4, "no run 'run_missing'"),
    ],
)
def test_bad_input_gets_one_line(
    ready: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    assert message in one_line_error(ready(*args, code=code))


def test_a_malformed_price_file_is_refused_before_any_run(ready: Cli, tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("date,symbol,price\n2026-11-27,AAA,abc\n", encoding="utf-8")
    line = one_line_error(ready("run", "--prices", str(prices), code=2))
    assert "prices.csv:2: bad price 'abc'" in line
    assert ready.json("runs", "list", "--format", "json") == []


@pytest.mark.dated
def test_a_price_file_drives_a_run(ready: Cli, tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    days = (-21, 0)
    rows = [f"{day(d)},{s},{p + d}" for d in days for s, p in (("AAA", 100), ("BBB", 500))]
    prices.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run = ready.json("run", "--json", "--prices", str(prices), "--as-of", day())
    assert run["state"] == "done"
    assert {o["symbol"] for o in run["orders"]} == {"AAA", "BBB"}


def test_bad_arguments_are_usage_errors(ready: Cli) -> None:
    assert "Invalid value" in ready("run", "--as-of", "2026-13-45", code=2).stderr
    assert "Invalid value" in ready("run", "--mode", "yolo", code=2).stderr


def test_db_check_and_paper_reset(ready: Cli) -> None:
    assert "no drift" in ready("db", "check").stdout
    from persistence.engine import make_engine
    from persistence.migrate import head_revisions

    assert ready("db", "current").stdout.split() == list(head_revisions(make_engine("sqlite://")))
    ready("run")
    assert ready.json("paper", "positions", "--format", "json")
    ready("paper", "reset", "--cash", "5000")
    assert ready.json("paper", "positions", "--format", "json") == []
    assert ready.json("paper", "orders", "--format", "json") == []
    assert "cash $5000" in ready("paper", "positions").stdout


def test_cancel_an_unfinished_run(ready: Cli) -> None:
    from fsm.adapters.paper_broker import PaperBroker
    from fsm.clock import SystemClock
    from fsm.engine import RunRequest
    from fsm.settings import Settings
    from persistence.engine import make_engine
    from persistence.store import SqlRunStore
    from tests.conftest import make_engine_for

    store = SqlRunStore(make_engine(ready.env["TRADEFSM_DB"]))
    broker = PaperBroker(Path(ready.env["TRADEFSM_PAPER_DB"]))
    # The process that created the run holds it for a second and is then gone, as after a crash.
    engine = make_engine_for(store, broker, SystemClock(), Settings(lease_seconds=1))
    run = engine.create(RunRequest(account_id="paper"))
    done = ready("cancel", run.run_id, "--actor", "ops-alice", "--reason", "halt")
    assert "cancelled by ops-alice" in done.stdout
    shown = ready.json("runs", "show", run.run_id, "--format", "json")
    assert shown["run"]["failure"]["error_type"] == "Cancelled"
    assert shown["ledger"][-1]["actor"] == "ops-alice"
    assert "already ended failed" in one_line_error(
        ready("cancel", run.run_id, "--actor", "x", "--reason", "y", code=7)
    )
    assert "Missing option" in ready("cancel", run.run_id, code=2).stderr


def test_failpoints_are_listed_and_a_misspelt_one_is_refused(ready: Cli) -> None:
    from fsm.failpoints import all_failpoints

    assert ready("failpoints").stdout.split() == list(all_failpoints())
    ready.env["TRADEFSM_FAILPOINTS"] = "transition.strat"
    assert "unknown failpoint" in one_line_error(ready("run", code=2))
    ready.env["TRADEFSM_FAILPOINTS"] = "transition.start:stall"  # pause or kill, nothing else
    assert "unknown failpoint" in one_line_error(ready("run", code=2))
    del ready.env["TRADEFSM_FAILPOINTS"]
    assert ready.json("runs", "list", "--format", "json") == []


def test_a_durability_other_than_strict_or_effects_is_refused(ready: Cli) -> None:
    ready.env["TRADEFSM_DURABILITY"] = "fast"
    line = one_line_error(ready("run", "--mode", "dry-run", code=2))
    assert "invalid setting durability: Input should be 'strict' or 'effects'" in line
    ready.env["TRADEFSM_DURABILITY"] = "effects"
    assert ready.json("run", "--mode", "dry-run", "--json")["state"] == "done"


def test_resume_needs_a_run_or_all(ready: Cli) -> None:
    assert "either RUN_ID or --all" in ready("resume", code=2).stderr
    assert "no run 'run_xxxx'" in one_line_error(ready("resume", "run_xxxx", code=4))


def test_a_plugin_name_that_cannot_be_one_is_refused_quoting_it(ready: Cli) -> None:
    line = one_line_error(ready("run", "--strategy", "", code=2))
    assert line.startswith("error: invalid setting strategy: '' does not fit. The strategy")
    assert "(given on the command line)" in line
    assert ready.json("runs", "list", "--format", "json") == []
