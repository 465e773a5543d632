"""The example plugin of examples/strategy-plugin, installed by `make install` as a user
installs theirs, runs end to end through `tradefsm run` and a worker on each SQL backend."""

from __future__ import annotations

import json

import pytest

from fsm.plugins import STRATEGIES, installed
from tests.cli.conftest import Cli, one_line_error

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


# Not `dated`: its idle worker waits on a threading.Event, which never wakes under libfaketime
# (the wait's deadline is taken from the faked monotonic clock); it writes no date of its own.
def test_a_worker_leaves_a_run_of_other_options_to_one_that_has_them(
    ready: Cli, migrated_url: str
) -> None:
    ready.env |= {"TRADEFSM_DB": migrated_url}
    run_id = ready("submit", env_extra={"TRADEFSM_STRATEGY": EXAMPLE}).stdout.strip()
    settings = ready.folder / "tradefsm.toml"
    settings.write_text('[sixty-forty]\nweights = { SPY = "0.3", BND = "0.3" }\n', "utf-8")
    other = ready("worker", "--idle-exit", "1", "--json")
    assert json.loads(other.stdout)["done"] == 0
    left = [line for line in other.stderr.splitlines() if "worker_left_run" in line]
    assert len(left) == 1, other.stderr
    assert run_id in left[0]
    assert "strategy config_sha256" in left[0]
    assert ready.json("runs", "show", run_id, "--format", "json")["run"]["status"] == "queued"

    settings.unlink()  # the run's own options (none): the worker builds sixty-forty itself
    report = ready.json("worker", "--max-runs", "1", "--json")
    assert report["done"] == 1
    shown = ready.json("runs", "show", run_id, "--format", "json")
    _ran_the_example(shown.get("run", shown))


def test_the_example_refuses_bad_options_in_one_line_naming_itself(ready: Cli) -> None:
    (ready.folder / "tradefsm.toml").write_text(
        f'strategy = "{EXAMPLE}"\n\n[{EXAMPLE}]\nweights = {{ SPY = "abc" }}\n', encoding="utf-8"
    )
    line = one_line_error(ready("run", "--mode", "dry-run", code=2))
    assert f"strategy plugin '{EXAMPLE}': weights must be numbers" in line
    assert ready.json("runs", "list", "--format", "json") == []
