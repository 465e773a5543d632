"""Stranded runs as operators meet them after a deploy: refused in one line (exit 12), listed,
the definitions and their difference shown, the run migrated with a name and a reason."""

from __future__ import annotations

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.machines.specs import TRADING_SPECS
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import TRADING_DAY
from tests.pinning.variants import engine_of, with_extra_guard

CURRENT = TRADING_SPECS.definition.definition_hash
OLD = with_extra_guard().definition.definition_hash


def _stranded(cli: Cli) -> str:
    """A plan parked for approval by the release before this one."""
    cli.upgrade()
    store = SqlRunStore(make_engine(cli.env["TRADEFSM_DB"]))
    broker = PaperBroker(cli.folder / "paper.db")
    old = engine_of(store, broker, FixedClock(TRADING_DAY), with_extra_guard(), "old-")
    run = old.run(RunRequest(account_id="paper"))
    assert run.state == "awaiting_approval"
    store.engine.dispose()
    return run.run_id


def test_a_stranded_run_is_refused_listed_diffed_and_migrated(cli: Cli) -> None:
    run_id = _stranded(cli)
    for command in (("resume", run_id), ("cancel", run_id, "--reason", "stop"),
                    ("approve", run_id, "--actor", "risk-bob", "--reason", "ok")):  # fmt: skip
        line = one_line_error(cli(*command, "--actor", "ops-carol", code=12)
                              if command[0] == "resume" else cli(*command, code=12))  # fmt: skip
        assert f"run {run_id} is stranded" in line
        assert f"tradefsm runs migrate {run_id} --to {CURRENT[:12]}" in line
    worked = cli.json("worker", "--idle-exit", "0", "--json")
    assert (worked["runs"], worked["stranded"]) == (0, [run_id])
    assert "left 1 stranded run(s)" in cli("worker", "--idle-exit", "0").stdout
    [listed] = cli.json("runs", "list", "--stranded", "--format", "json")
    assert (listed["run_id"], listed["definition_hash"]) == (run_id, OLD)
    shown = {d["definition_hash"]: d for d in cli.json("definitions", "--json")}
    assert (shown[OLD]["unfinished"], shown[OLD]["current"]) == (1, False)
    assert (shown[CURRENT]["runs"], shown[CURRENT]["current"]) == (0, True)
    listing = cli("definitions").stdout
    assert f"{OLD[:16]}       1 run(s)  1 stranded" in listing
    assert f"{CURRENT[:16]}       0 run(s)  current" in listing
    diff = cli.json("definitions", "diff", OLD[:10], CURRENT[:10], "--json")
    [changed] = diff["transitions"]["changed"]
    assert (changed["source"], changed["event"]) == ("awaiting_approval", "approved")
    assert diff["guards"] == {"added": [], "removed": []}  # market_open is checked elsewhere
    text = cli("definitions", "diff", OLD[:10], CURRENT[:10]).stdout
    assert "~ transition awaiting_approval --approved--> : guards [" in text
    cli("runs", "migrate", run_id, "--to", OLD[:12], "--actor", "ops-carol", "--reason", "r",
        code=2)  # fmt: skip
    moved = cli.json("runs", "migrate", run_id, "--to", CURRENT[:12], "--actor", "ops-carol",
                     "--reason", "release 2 reviewed", "--json")  # fmt: skip
    assert moved == {"to": CURRENT, "migrated": [run_id], "refused": {}}
    assert cli.json("runs", "list", "--stranded", "--format", "json") == []
    again = cli("runs", "migrate", run_id, "--to", CURRENT[:12], "--actor", "ops-carol",
                "--reason", "twice", code=12)  # fmt: skip
    assert "already runs under that definition" in one_line_error(again)
    cli("audit", "verify")
