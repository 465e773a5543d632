"""Crash on purpose: SIGKILL a real `tradefsm run` at each failpoint, resume in a new process.

After the resume the run must be `done`, its ledger gapless with a valid chain, the paper
broker must hold exactly one order per planned (symbol, side), and the positions must equal
those of an uninterrupted run — with and without the broker's duplicate-id protection, so the
engine alone is tested too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.compose.engines import build_engine
from fsm.failpoints import all_failpoints
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from fsm.settings import load_settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import broken_links

# Reached by a first paper run on a fresh account; the others need another path (another
# mode, a second run, a refused guard, a cancel, a transient error): OFF_THE_PAPER_PATH.
ON_THE_PAPER_PATH = (
    "transition.created", "transition.start", "transition.signals_generated",
    "transition.rebalance_needed", "transition.plan_approved", "intents.saved",
    "broker.before_submit", "broker.submitted", "intent.acked", "broker.filled",
    "intents.reconciled", "transition.execution_completed",
)  # fmt: skip
CRASH_POINTS = (*ON_THE_PAPER_PATH, "broker.submitted@4", "intent.acked@8")


APPROVAL_PATH = ("transition.approval_required", "transition.approved", "transition.rejected")
RETENTION_PATH = ("retention.bundled",)  # killed in tests/retention/test_cli.py
POWER_LOSS_PATH = ("commit.unflushed",)  # paused in tests/resume/test_power_loss.py
UNFLUSHED = {"TRADEFSM_DURABILITY": "effects"}


def test_the_crash_tests_cover_every_failpoint() -> None:
    off_the_paper_path = {case[0] for case in OFF_THE_PAPER_PATH}
    covered = set(ON_THE_PAPER_PATH) | off_the_paper_path | set(APPROVAL_PATH)
    assert covered | set(RETENTION_PATH) | set(POWER_LOSS_PATH) == set(all_failpoints())


class Site:
    """A run database and a paper broker file, driven by real `tradefsm` processes."""

    def __init__(self, folder: Path, protect: bool, url: str | None = None, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.url = url or f"sqlite:///{folder / 'runs.db'}"
        self.paper = folder / "paper.db"
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        self.store = SqlRunStore(engine)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")},
            "TRADEFSM_DB": self.url,
            "TRADEFSM_PAPER_DB": str(self.paper),
            "TRADEFSM_PAPER_REJECT_DUPLICATES": "true" if protect else "false",
            **env,
        }

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "fsm", *args], env={**self.env, **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def cli(self, *args: str, **env: str) -> tuple[int, str, str]:
        process = self.start(*args, **env)
        out, err = process.communicate(timeout=120)
        assert "Traceback" not in err, err
        return process.returncode, out, err

    def queue(self, accounts: int, per_account: int) -> list[str]:
        """Queue runs as `tradefsm submit` does, in this process (one CLI start each is slow);
        accounts take turns."""
        engine = build_engine(load_settings(db=self.url, paper_db=self.paper), self.store)
        requests = (RunRequest(account_id=f"acct-{n % accounts}")
                    for n in range(accounts * per_account))  # fmt: skip
        return [str(engine.submit(request).run_id) for request in requests]

    def active_run(self) -> str:
        [run] = self.store.list_runs(RunFilter(status="active"))
        return run.run_id

    def only_run(self) -> Any:
        [run] = self.store.list_runs(RunFilter())
        return run

    def orders_of(self, account: str) -> list[str]:
        return [o.client_order_id for o in PaperBroker(self.paper, account_id=account).orders()]

    def orders(self) -> Counter[tuple[str, str]]:
        return Counter((o.symbol, o.side.value) for o in PaperBroker(self.paper).orders())

    def positions(self) -> dict[str, Any]:
        account = PaperBroker(self.paper).account()
        return {"cash": account.cash, **{p.symbol: p.qty for p in account.positions}}


@pytest.mark.parametrize("protect", [True, False], ids=["broker-dedup", "engine-only"])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_at_a_failpoint_then_resume(
    baseline: Site, tmp_path: Path, point: str, protect: bool
) -> None:
    _kill_and_resume(baseline, Site(tmp_path, protect), point)


@pytest.mark.postgres
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_then_resume_on_postgresql(
    baseline: Site, tmp_path: Path, point: str, pg_cluster: Any
) -> None:
    _kill_and_resume(baseline, Site(tmp_path, False, url=pg_cluster.new_database()), point)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_then_resume_when_only_effects_are_flushed(
    baseline: Site, tmp_path: Path, point: str
) -> None:
    """A kill loses no commit, flushed or not: the same outcome as with every commit flushed
    (the engine alone keeps orders single: the broker's duplicate check is off)."""
    _kill_and_resume(baseline, Site(tmp_path, False, **UNFLUSHED), point)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["transition.start", "transition.rebalance_needed",
                                   "broker.submitted", "intent.acked@8"])  # fmt: skip
def test_kill_then_resume_on_postgresql_when_only_effects_are_flushed(
    baseline: Site, tmp_path: Path, point: str, pg_cluster: Any
) -> None:
    site = Site(tmp_path, False, url=pg_cluster.new_database(), **UNFLUSHED)
    _kill_and_resume(baseline, site, point)


def _kill_and_resume(baseline: Site, site: Site, point: str) -> None:
    code, _, _ = site.cli("run", "--json", TRADEFSM_FAILPOINTS=point)
    assert code == -signal.SIGKILL, f"{point} was not reached"
    run = site.only_run()
    for stored in site.store.intents(run.run_id):  # a fill is never stored without its size
        if stored.status in ("filled", "partially_filled"):
            assert stored.filled_qty, (point, stored)
    if run.status.value == "active":
        code, out, err = site.cli("resume", run.run_id, "--json")
        assert (code, json.loads(out)["state"]) == (0, "done"), err
    else:  # killed right after the final commit: nothing is left to do
        assert run.state == "done"
        code, _, err = site.cli("resume", run.run_id)
        assert code == 7
        assert "already ended done" in err
    ledger = site.store.ledger(run.run_id)
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    assert not broken_links(ledger)
    assert ledger[-1].target == "done"
    assert site.orders() == baseline.orders()
    assert set(site.orders().values()) == {1}
    assert site.positions() == baseline.positions()


OFF_THE_PAPER_PATH = [
        ("transition.signals_reported", ("run", "--mode", "signals-only"), {}),
        ("transition.plan_reported", ("run", "--mode", "dry-run"), {}),
        ("transition.fail", ("run", "--mode", "live"), {}),
        ("transition.rebalance_not_needed", ("run",), {"second": "run"}),
        ("transition.plan_empty", ("run",),
         {"second": "run", "TRADEFSM_DRIFT_THRESHOLD": "0.0001"}),
        ("transition.cancel", ("cancel",), {}),
        # a slow broker and a short step timeout: the analysis times out, a transient error
        ("attempt.stored", ("run",),
         {"TRADEFSM_PAPER_LATENCY_MS": "300", "TRADEFSM_STEP_TIMEOUT_SECONDS": "0.1",
          "TRADEFSM_RETRY_BASE_SECONDS": "0"}),
]  # fmt: skip


@pytest.mark.parametrize(("point", "first", "env"), OFF_THE_PAPER_PATH)
def test_kill_at_the_failpoints_off_the_paper_path(
    tmp_path: Path, point: str, first: tuple[str, ...], env: dict[str, str]
) -> None:
    site = Site(tmp_path, protect=True, **{k: v for k, v in env.items() if k != "second"})
    args = first
    if "second" in env:  # the point is on a second run of the account
        assert site.cli("run")[0] == 0
    if args[0] == "cancel":
        code, _, _ = site.cli("run", TRADEFSM_FAILPOINTS="transition.start")
        assert code == -signal.SIGKILL
        args = ("cancel", site.active_run(), "--actor", "ops", "--reason", "crash test")
    code, _, err = site.cli(*args, TRADEFSM_FAILPOINTS=point)
    assert code == -signal.SIGKILL, f"{point} was not reached: {err}"
    run = site.store.list_runs(RunFilter(limit=1))[0]
    if run.status.value == "active":
        code, _, err = site.cli("resume", run.run_id)
        assert code in (0, 1), err
    run = site.store.get_run(run.run_id)
    assert run.status.value in ("done", "failed")
    ledger = site.store.ledger(run.run_id)
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    assert not broken_links(ledger)
    assert set(site.orders().values()) <= {1}


@pytest.mark.parametrize("point", APPROVAL_PATH)
def test_kill_around_the_approval_then_carry_on(baseline: Site, tmp_path: Path, point: str) -> None:
    """A park, an approval and a rejection each survive a kill right after their commit."""
    site = Site(tmp_path, protect=True, TRADEFSM_APPROVAL_NOTIONAL="1000")
    decide = ("reject" if point.endswith("rejected") else "approve", "--actor", "ops-alice",
              "--reason", "crash test")  # fmt: skip
    if point.endswith("approval_required"):
        assert site.cli("run", TRADEFSM_FAILPOINTS=point)[0] == -signal.SIGKILL
    else:
        assert site.cli("run")[0] == 9  # parked, waiting for a person
    run_id = site.only_run().run_id
    assert site.store.get_run(run_id).state == "awaiting_approval"
    armed = "" if point.endswith("required") else point
    code, _, err = site.cli(decide[0], run_id, *decide[1:], TRADEFSM_FAILPOINTS=armed)
    if point.endswith("required"):
        assert code == 0, err
    else:
        assert code == -signal.SIGKILL, err
    if site.store.get_run(run_id).status.value == "active":
        assert site.cli("resume", run_id)[0] == 0
    run = site.store.get_run(run_id)
    assert run.state == ("failed" if point.endswith("rejected") else "done")
    assert not broken_links(site.store.ledger(run_id))
    if run.state == "done":
        assert set(site.orders().values()) == {1}
        assert site.positions() == baseline.positions()
    else:
        assert site.orders() == Counter()
