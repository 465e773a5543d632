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
