"""The example plugin of examples/strategy-plugin, installed by `make install` as a user
installs theirs, runs end to end through `tradefsm run` and a worker on each SQL backend."""

from __future__ import annotations

import pytest

from fsm.plugins import STRATEGIES, installed
from tests.cli.conftest import Cli

EXAMPLE = "sixty-forty"


@pytest.fixture(autouse=True)
def _example_installed() -> None:
    names = {p.name for p in installed(STRATEGIES)}
    assert EXAMPLE in names, "the example plugin is not installed: run `make install`"


def _ran_the_example(run: dict[str, object]) -> None:
    assert run["state"] == "done", run
    params = run["params"]
    assert isinstance(params, dict)
    assert params["strategy"]["name"] == EXAMPLE
    assert params["strategy"]["distribution"] == "tradefsm-sixty-forty"
    assert params["strategy"]["version"] == "1.0.0"


@pytest.mark.dated
def test_the_example_strategy_runs_from_the_command_line(ready: Cli) -> None:
    run = ready.json("run", "--strategy", EXAMPLE, "--json")
    _ran_the_example(run)
    assert {o["symbol"] for o in run["orders"]} == {"SPY", "BND"}


@pytest.mark.dated
def test_a_worker_runs_the_example_strategy(ready: Cli, migrated_url: str) -> None:
    ready.env |= {"TRADEFSM_DB": migrated_url, "TRADEFSM_STRATEGY": EXAMPLE}
    run_id = ready("submit").stdout.strip()
    report = ready.json("worker", "--max-runs", "1", "--json")
    assert report["done"] == 1
    shown = ready.json("runs", "show", run_id, "--format", "json")
    _ran_the_example(shown.get("run", shown))
