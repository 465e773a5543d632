"""Database faults under load: workers and runs ride through them, on a server of their own.

Each scenario queues runs, starts real `tradefsm worker` processes, then restarts, crashes,
locks or cuts the PostgreSQL server under them. Every run must end `done` without a new
worker or a manual `resume`, with one broker order per intent, a ledger that verifies, and
no traceback; the workers' logs must show the fault was hit.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from fsm.ports import RunFilter
from tests.conftest import started_cluster
from tests.postgres_cluster import PostgresCluster
from tests.resume.test_crash import Site

LOAD = {"TRADEFSM_PAPER_LATENCY_MS": "40", "TRADEFSM_LEASE_SECONDS": "3"}


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresCluster]:
    """A cluster these tests restart and crash, apart from the one the other tests share."""
    yield from started_cluster()


def _site(server: PostgresCluster, tmp_path: Path, **env: str) -> Site:
    return Site(tmp_path, protect=True, url=server.new_database(), **(LOAD | env))


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _done(site: Site) -> int:
    return len(site.store.list_runs(RunFilter(status="done", limit=1000)))


def _workers(site: Site, count: int = 2, idle: str = "4") -> list[subprocess.Popen[str]]:
    return [
        site.start("worker", "--concurrency", "2", "--idle-exit", idle, "--json")
        for _ in range(count)
    ]


def _finished(workers: list[subprocess.Popen[str]]) -> str:
    """Wait for the workers; their stderr, which must hold no traceback."""
    logs = ""
    for worker in workers:
        _out, err = worker.communicate(timeout=240)
        assert "Traceback" not in err, err
        logs += err
    return logs


def _every_run_done_once(site: Site, ids: list[str]) -> None:
    runs = {r.run_id: r for r in site.store.list_runs(RunFilter(limit=1000))}
    assert set(runs) == set(ids)
    assert Counter(r.state for r in runs.values()) == {"done": len(ids)}
    sent = Counter(o for account in range(10) for o in site.orders_of(f"acct-{account}"))
    planned = [i.intent.client_order_id for run_id in ids for i in site.store.intents(run_id)]
    assert planned, "the runs placed no orders: the test proves nothing"
    assert {coid: sent[coid] for coid in planned} == dict.fromkeys(planned, 1)
    assert set(sent) == set(planned)
    code, out, err = site.cli("audit", "verify")
    assert code == 0, out + err


def _under_load(site: Site) -> tuple[list[str], list[subprocess.Popen[str]]]:
    ids = site.queue(accounts=10, per_account=2)
    workers = _workers(site)
    _wait_for(lambda: _done(site) >= 3)
    assert _done(site) < len(ids), "the load ended before the fault: nothing was tested"
    return ids, workers


def _restart(server: PostgresCluster, _site: Site) -> None:
    server.restart()


def _crash(server: PostgresCluster, _site: Site) -> None:
    server.stop_server("immediate")
    time.sleep(1)
    server.start_server()


def _lock(_server: PostgresCluster, site: Site) -> None:
    with psycopg.connect(site.url.replace("postgresql+psycopg", "postgresql")) as locker:
        locker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        time.sleep(2.5)  # past the 500 ms statement timeout


def _terminate(server: PostgresCluster, _site: Site) -> None:
    with psycopg.connect(server.admin_dsn(), autocommit=True) as admin:
        for _ in range(6):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'tradefsm' AND pid <> pg_backend_pid()"
            )
            time.sleep(0.15)


FAULTS = {
    "restart": (_restart, {}, "database_"),
    "crash": (_crash, {}, "database_"),
    "lock-past-statement-timeout": (_lock, {"TRADEFSM_DB_STATEMENT_TIMEOUT_MS": "500"},
                                    "statement timeout"),
    "terminated-connections": (_terminate, {}, "database_"),
}  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("fault", FAULTS)
def test_workers_ride_through(server: PostgresCluster, tmp_path: Path, fault: str) -> None:
    """Two workers under load: the fault happens; every run still ends done, by them."""
    inflict, env, evidence = FAULTS[fault]
    site = _site(server, tmp_path, **env)
    ids, workers = _under_load(site)
    inflict(server, site)
    logs = _finished(workers)
    assert [w.returncode for w in workers] == [0, 0]
    assert evidence in logs  # the fault was hit: a write rode through it, or a worker waited
    _every_run_done_once(site, ids)


@pytest.mark.postgres
def test_a_worker_killed_during_a_restart_leaves_its_runs_to_the_other(
    server: PostgresCluster, tmp_path: Path
) -> None:
    site = _site(server, tmp_path)
    ids = site.queue(accounts=10, per_account=2)
    victim, survivor = _workers(site, idle="10")
    _wait_for(lambda: _done(site) >= 3)
    server.stop_server("fast")
    victim.send_signal(signal.SIGKILL)
    server.start_server()
    _finished([victim, survivor])
    assert (victim.returncode, survivor.returncode) == (-signal.SIGKILL, 0)
    _every_run_done_once(site, ids)


def _stderr_through_an_outage(server: PostgresCluster, process: subprocess.Popen[str]) -> str:
    """Stop the server at once, wait for ``process`` to end, start the server again."""
    server.stop_server("immediate")
    try:
        _out, err = process.communicate(timeout=120)
    finally:
        server.start_server()
    return err


def _executing(site: Site) -> bool:
    return any(r.state == "executing" for r in site.store.list_runs(RunFilter(status="active")))


@pytest.mark.postgres
def test_run_past_its_retry_budget_exits_3_and_resumes(
    server: PostgresCluster, tmp_path: Path
) -> None:
    site = _site(server, tmp_path, TRADEFSM_DB_RETRY_SECONDS="1",
                 TRADEFSM_PAPER_LATENCY_MS="300")  # fmt: skip
    run = site.start("run", "--account", "acct-0")
    _wait_for(lambda: _executing(site))
    run_id = site.active_run()
    err = _stderr_through_an_outage(server, run)
    assert run.returncode == 3, err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "the database is unavailable" in line
    assert f"tradefsm resume {run_id}" in line
    assert "Traceback" not in err
    assert site.store.get_run(run_id).status.value == "active"
    code, _out, err = site.cli("resume", run_id)
    assert code == 0, err
    _every_run_done_once(site, [run_id])


@pytest.mark.postgres
def test_worker_exits_3_when_the_outage_outlasts_its_limit(
    server: PostgresCluster, tmp_path: Path
) -> None:
    site = _site(server, tmp_path, TRADEFSM_WORKER_DB_OUTAGE_SECONDS="2",
                 TRADEFSM_DB_RETRY_SECONDS="1", TRADEFSM_PAPER_LATENCY_MS="200")  # fmt: skip
    ids = site.queue(accounts=3, per_account=1)
    [worker] = _workers(site, count=1)
    _wait_for(lambda: _executing(site))
    err = _stderr_through_an_outage(server, worker)
    assert worker.returncode == 3, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]]
    assert "stayed unavailable for more than 2 s" in errors[0]
    assert "Traceback" not in err
    # Once the leases end, another worker takes the runs over.
    code, _out, err = site.cli("worker", "--idle-exit", "5", "--concurrency", "3",
                               TRADEFSM_PAPER_LATENCY_MS="0")  # fmt: skip
    assert code == 0, err
    _every_run_done_once(site, ids)


def test_sqlite_locked_past_the_busy_timeout(tmp_path: Path) -> None:
    site = Site(tmp_path, protect=True, TRADEFSM_PAPER_LATENCY_MS="200")
    run = site.start("run", "--account", "acct-0", "--json")
    _wait_for(lambda: _executing(site))
    locker = sqlite3.connect(
        site.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    locker.execute("BEGIN IMMEDIATE")  # the write lock, held past the 5 s busy timeout
    released = threading.Timer(6.5, lambda: locker.execute("COMMIT"))
    released.start()
    _out, err = run.communicate(timeout=120)
    released.join()
    assert run.returncode == 0, err
    assert "database is locked" in err
    assert "Traceback" not in err
    _every_run_done_once(site, [site.only_run().run_id])
