"""A worker through a database outage: it waits, then gives up with the outage as its error,
releasing the leases it holds; a defect in a thread stops it with one error, not silently; a
worker whose every claim is refused still stops when idle."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import ConcurrentModification, DatabaseUnavailable, StorageError, WorkerFailed
from fsm.requests import RunRequest
from fsm.worker import Worker
from tests.conftest import TRADING_DAY, make_engine_for


class DownForClaims(MemoryRunStore):
    """Claiming and listing runs fail as if the server were down; the rest answers (so the
    lease release at exit can be seen)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def claim_next(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    def list_runs(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _worker(store: MemoryRunStore, tmp_path: Path, **kwargs: Any) -> tuple[Worker, Any]:
    engine = make_engine_for(store, PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY))
    return Worker(lambda: engine, outage_seconds=0.3, poll_seconds=0.01, **kwargs), engine


def test_past_its_outage_limit_a_worker_stops_and_releases_its_leases(tmp_path: Path) -> None:
    store = DownForClaims(DatabaseUnavailable("connection refused"))
    worker, engine = _worker(store, tmp_path)
    held = engine.create(RunRequest(account_id="paper"))  # leased to this worker's engine
    assert held.lease_expires_at > TRADING_DAY
    report = worker.run()
    assert report.stopped_by == "database outage"  # never "no more work"
    assert isinstance(report.error, DatabaseUnavailable)
    assert "TRADEFSM_WORKER_DB_OUTAGE_SECONDS" in report.error.message
    after = store.get_run(held.run_id)
    assert after.status.value == "active"
    assert after.lease_expires_at < held.lease_expires_at  # released: another may take it now


def test_a_defect_in_a_worker_thread_stops_the_worker_with_one_error(tmp_path: Path) -> None:
    worker, _ = _worker(DownForClaims(ZeroDivisionError("a bug")), tmp_path, concurrency=2)
    report = worker.run()
    assert report.stopped_by == "error"
    assert isinstance(report.error, WorkerFailed)
    assert "ZeroDivisionError" in report.error.message


def test_a_database_error_no_retry_fixes_stops_the_worker_at_once(tmp_path: Path) -> None:
    worker, _ = _worker(DownForClaims(StorageError("no such table: runs")), tmp_path)
    report = worker.run()
    assert report.stopped_by == "database error"
    assert isinstance(report.error, StorageError)


class RefusesClaims(MemoryRunStore):
    """Every claim is refused as if another driver had taken the run first."""

    def claim_next(self, *args: Any, **kwargs: Any) -> Any:
        raise ConcurrentModification("run_x moved under this worker", run_id="run_x")


def test_a_worker_whose_claims_are_all_refused_still_exits_when_idle(tmp_path: Path) -> None:
    worker, _ = _worker(RefusesClaims(), tmp_path, idle_exit=0.05, concurrency=2)
    done = threading.Event()
    runner = threading.Thread(target=lambda: (worker.run(), done.set()), daemon=True)
    runner.start()
    finished = done.wait(60)  # a wide margin: the worker should stop after about 0.05 s
    worker.stopping.set()  # never leave a looping worker behind if it did not
    assert finished, "the worker kept polling refused claims past --idle-exit"
    assert worker.report.stopped_by == "no more work"
    assert worker.report.error is None
