"""`runs list --state` takes every state the listing prints, `queued` included."""

from __future__ import annotations

from fsm.definition import trading_definition
from tests.cli.conftest import Cli, one_line_error


def test_every_state_the_listing_prints_filters_it(ready: Cli) -> None:
    ready("run", "--mode", "dry-run")
    queued = ready("submit", "--account", "later").stdout.strip()
    shown = ready("runs", "list").stdout
    assert "queued" in shown
    [only] = ready.json("runs", "list", "--state", "queued", "--format", "json")
    assert only["run_id"] == queued
    assert queued[:12] in ready("runs", "list", "--state", "queued").stdout
    [done] = ready.json("runs", "list", "--state", "done", "--format", "json")
    assert done["run_id"] != queued
    for state in trading_definition().states:
        ready("runs", "list", "--state", state)
    line = one_line_error(ready("runs", "list", "--state", "queued", "--status", "done", code=2))
    assert "--state queued" in line


def test_a_queued_run_can_be_cancelled(ready: Cli) -> None:
    queued = ready("submit", "--account", "later").stdout.strip()
    done = ready("cancel", queued, "--actor", "ops-ann", "--reason", "wrong account")
    assert f"run {queued} cancelled by ops-ann" in done.stdout
    assert ready.json("runs", "list", "--state", "queued", "--format", "json") == []
    [row] = ready.json("runs", "list", "--status", "failed", "--format", "json")
    assert row["run_id"] == queued
