"""Two processes race for the same run, or the same account: exactly one drives."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from fsm.ports import RunFilter
from tests.resume.test_crash import Site

SLOW = {"TRADEFSM_PAPER_LATENCY_MS": "250"}  # every broker call takes a while: they overlap


def test_two_resumers_one_driver(tmp_path: Path) -> None:
    site = Site(tmp_path, protect=False, **SLOW)
    code, _, _ = site.cli("run", TRADEFSM_FAILPOINTS="transition.plan_approved")
    assert code == -signal.SIGKILL
    run = site.only_run()
    racers = [site.start("resume", run.run_id) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in racers]  # type: ignore[union-attr]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 5], results
    loser = next(err for code, err in results if code == 5)
    assert "held by a live lease" in loser
    assert site.store.get_run(run.run_id).state == "done"
    assert set(site.orders().values()) == {1}


def test_two_runs_on_one_account_one_wins(tmp_path: Path) -> None:
    site = Site(tmp_path, protect=False, **SLOW)
    racers = [site.start("run", "--json") for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in racers]  # type: ignore[union-attr]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 5], results
    loser = next(err for code, _, err in results if code == 5)
    assert "already has an active run" in loser
    winner = next(json.loads(out) for code, out, _ in results if code == 0)
    assert winner["state"] == "done"
    assert set(site.orders().values()) == {1}
    assert len(site.store.list_runs(RunFilter())) == 1


def test_resume_all_picks_up_every_interrupted_run(tmp_path: Path) -> None:
    site = Site(tmp_path, protect=True)
    code, _, _ = site.cli("run", "--account", "a", TRADEFSM_FAILPOINTS="intents.saved")
    assert code == -signal.SIGKILL
    code, _, _ = site.cli("run", "--account", "b", "--mode", "dry-run",
                          TRADEFSM_FAILPOINTS="transition.start")  # fmt: skip
    assert code == -signal.SIGKILL
    code, out, _ = site.cli("resume", "--all", "--json")
    assert code == 0
    assert sorted(r["state"] for r in json.loads(out)) == ["done", "done"]
    code, out, _ = site.cli("resume", "--all")
    assert (code, out.strip()) == (0, "no interrupted runs to resume")
