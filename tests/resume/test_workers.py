"""Workers over a queue, on SQLite and PostgreSQL: one killed mid-run, none driving twice."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

from fsm.ports import RunFilter
from tests.conftest import broken_links
from tests.resume.test_crash import Site


def test_three_workers_thirty_runs_one_worker_killed(db_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, protect=False, url=db_url, TRADEFSM_LEASE_SECONDS="2")
    ids = site.queue(accounts=10, per_account=3)
    assert {r.status.value for r in site.store.list_runs(RunFilter())} == {"queued"}
    workers = [site.start("worker", "--idle-exit", "4", "--json") for _ in range(2)]
    workers.append(site.start("worker", "--idle-exit", "4", "--json",
                              TRADEFSM_FAILPOINTS="transition.signals_generated@3"))  # fmt: skip
    codes = [w.wait(timeout=300) for w in workers]
    assert sorted(codes) == [-signal.SIGKILL, 0, 0]
    reports = [json.loads(w.stdout.read()) for w in workers if w.returncode == 0]  # type: ignore[union-attr]
    runs = {r.run_id: r for r in site.store.list_runs(RunFilter(limit=100))}
    assert set(runs) == set(ids)
    for run in runs.values():
        assert run.status.value in ("done", "failed"), run
        assert run.status.value == "done" or run.failure["message"]
        ledger = site.store.ledger(run.run_id)
        assert not broken_links(ledger)
        entered = Counter(e.target for e in ledger if e.accepted)
        assert max(entered.values()) == 1, f"{run.run_id} was driven twice: {entered}"
    survivors = [i for rep in reports for i in rep["run_ids"]]
    assert len(survivors) == len(set(survivors))  # no run claimed by two workers
    assert len(survivors) == 28  # the killed worker finished 2; its 3rd was taken over
    orders = Counter(o for account in range(10) for o in site.orders_of(f"acct-{account}"))
    assert set(orders.values()) <= {1}


def test_sigterm_finishes_the_run_held_then_stops(db_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, protect=True, url=db_url, TRADEFSM_PAPER_LATENCY_MS="300")
    site.queue(accounts=3, per_account=1)
    worker = site.start("worker", "--json")
    deadline = time.monotonic() + 60
    while not site.store.list_runs(RunFilter(status="active")) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    report = json.loads(worker.stdout.read())  # type: ignore[union-attr]
    assert report["stopped_by"] == "SIGTERM"
    assert report["runs"] == 1
    statuses = Counter(r.status.value for r in site.store.list_runs(RunFilter()))
    assert statuses == {"done": 1, "queued": 2}


def test_max_runs_and_idle_exit(db_url: str, tmp_path: Path) -> None:
    site = Site(tmp_path, protect=True, url=db_url)
    site.queue(accounts=3, per_account=1)
    code, out, _ = site.cli("worker", "--max-runs", "2", "--concurrency", "2", "--json")
    assert code == 0
    assert json.loads(out)["runs"] == 2
    code, out, _ = site.cli("worker", "--idle-exit", "0.5")
    assert code == 0
    assert "drove 1 run(s): 1 done" in out
