"""Approvals as people use them: run parks (exit 9), list and show what waits, approve, reject."""

from __future__ import annotations

from tests.cli.conftest import Cli, one_line_error


def _parked(cli: Cli) -> str:
    cli.env["TRADEFSM_APPROVAL_NOTIONAL"] = "1000"
    cli.upgrade()
    done = cli("run", "--actor", "trader-ann", code=9)
    assert "waits for approval" in done.stdout
    assert "trader-ann" in done.stdout
    [waiting] = cli.json("runs", "list", "--state", "awaiting_approval", "--format", "json")
    return str(waiting["run_id"])


def test_a_parked_plan_is_listed_shown_and_approved_by_someone_else(cli: Cli) -> None:
    run_id = _parked(cli)
    shown = cli.json("runs", "show", run_id, "--format", "json")
    assert shown["requested_by"] == "trader-ann"
    assert shown["awaiting_approval"]["plan"]["items"]
    assert shown["resume_policy"]["parks"] is True
    own = cli("approve", run_id, "--actor", "trader-ann", "--reason", "mine", code=6)
    assert "four_eyes" in one_line_error(own)
    cli("resume", run_id, code=7)
    done = cli.json("approve", run_id, "--actor", "risk-bob", "--reason", "checked", "--json")
    assert done["state"] == "done"
    assert len(done["orders"]) > 0


def test_a_rejected_plan_ends_failed(cli: Cli) -> None:
    run_id = _parked(cli)
    failed = cli.json(
        "reject", run_id, "--actor", "risk-bob", "--reason", "not today", "--json"
    )  # the rejection is recorded: exit 0, as for cancel
    assert failed["failure"]["error_type"] == "Rejected"
    assert cli.json("paper", "orders", "--format", "json") == []


def test_a_queued_run_keeps_who_requested_it_for_the_four_eyes_check(cli: Cli) -> None:
    cli.env["TRADEFSM_APPROVAL_NOTIONAL"] = "1000"
    cli.upgrade()
    run_id = cli("submit", "--actor", "trader-ann").stdout.strip()
    cli("worker", "--max-runs", "1")
    shown = cli.json("runs", "show", run_id, "--format", "json")
    assert shown["requested_by"] == "trader-ann"
    assert shown["awaiting_approval"]["plan"]["items"]
    own = cli("approve", run_id, "--actor", "trader-ann", "--reason", "mine", code=6)
    assert "four_eyes" in one_line_error(own)
