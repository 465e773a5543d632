"""Resume cost against database size: 1k runs stored vs 100k runs stored.

Each database holds N finished runs (with their ledger rows and checkpoints), then a few
runs interrupted in `planning`. Resuming one loads its row and checkpoints by key, takes the
lease and drives it to the end; that cost must not grow with N.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert

from benchmarks.transition import AS_OF, Account, Market, Signals
from fsm.clock import SystemClock
from fsm.definition import trading_definition
from fsm.driver import RunDriver
from fsm.engine import Engine
from fsm.ids import UuidFactory
from fsm.kinds import Mode
from fsm.ledger import SCHEME
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import checkpoints, ledger, runs

SETTINGS = Settings(lease_seconds=0.001)  # a crashed driver's lease is expired at once


def _fill(engine: SqlEngine, count: int) -> None:
    """Insert ``count`` finished runs, 6 ledger rows and 1 checkpoint each, in bulk."""
    definition = trading_definition()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    with engine.begin() as conn:
        for start in range(0, count, batch):
            ids = range(start, min(start + batch, count))
            conn.execute(insert(runs), [_run_row(n, t0, definition.definition_hash) for n in ids])
            conn.execute(
                insert(ledger), [_ledger_row(n, seq, t0) for n in ids for seq in range(1, 7)]
            )
            conn.execute(insert(checkpoints), [
                {"run_id": f"old_{n}", "seq": 3, "state": "generating_signals",
                 "schema_version": 1, "output": {"targets": [], "strategy": "old"},
                 "recorded_at": _ledger_row(n, 3, t0)["occurred_at"]}  # its ledger row's time
                for n in ids
            ])  # fmt: skip


def _run_row(n: int, t0: datetime, definition_hash: str) -> dict[str, Any]:
    at = t0 + timedelta(seconds=n)
    return {
        "run_id": f"old_{n}", "correlation_id": f"c_{n}", "idempotency_key": None,
        "account_id": f"acct_{n % 500}", "mode": "paper", "as_of": at.date(), "state": "done",
        "status": "done", "version": 6, "parent_run_id": None,
        "definition_hash": definition_hash, "params": {}, "result": {"ended_by": "x"},
        "failure": None, "head_hash": "0" * 64, "created_at": at, "updated_at": at,
        "lease_owner": None, "lease_expires_at": None, "deadline_at": None,
    }  # fmt: skip


def _ledger_row(n: int, seq: int, t0: datetime) -> dict[str, Any]:
    return {
        "run_id": f"old_{n}", "seq": seq, "event": "start", "source": "idle",
        "target": "generating_signals", "accepted": True, "guards": [], "actor": "engine",
        "correlation_id": f"c_{n}", "causation_id": None,
        "occurred_at": t0 + timedelta(seconds=n), "duration_ms": 1, "attempt": 1,
        "error_type": None, "error_message": None, "prev_hash": "0" * 64, "hash": "0" * 64,
        "commits": {}, "scheme": SCHEME,  # the database refuses rows of an older scheme
    }  # fmt: skip


def _engine(store: SqlRunStore) -> Engine:
    ports = Ports(Signals(), Market(), Account())  # type: ignore[arg-type]  # dry-run: no orders
    return Engine(store, ports, SETTINGS, SystemClock(), UuidFactory())


def _interrupted(store: SqlRunStore, account: str) -> str:
    engine = _engine(store)
    run = engine.create(RunRequest(account_id=account, mode=Mode.DRY_RUN, as_of=AS_OF))
    driver = RunDriver(engine.runtime, run)
    while driver.run.state != "planning":
        driver.step()
    return run.run_id


def _measure(folder: Path, stored: int, repetitions: int) -> float:
    db = make_engine(f"sqlite:///{folder / f'resume_{stored}.db'}")
    migrate.upgrade(db)
    store = SqlRunStore(db)
    store.ensure_definition(trading_definition().record())
    _fill(db, stored)
    timings = []
    for rep in range(repetitions):
        run_id = _interrupted(store, f"crashed_{rep}")
        time.sleep(0.002)  # let the crashed driver's lease expire
        started = time.perf_counter()
        resumed = _engine(store).resume(run_id)
        timings.append((time.perf_counter() - started) * 1000)
        assert resumed.state == "done", resumed.failure
    db.dispose()
    return statistics.median(timings)


def run(quick: bool = False) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet
    small, large, repetitions = (1_000, 10_000, 5) if quick else (1_000, 100_000, 15)
    with tempfile.TemporaryDirectory() as tmp:
        ms_small = _measure(Path(tmp), small, repetitions)
        ms_large = _measure(Path(tmp), large, repetitions)
    return {
        "benchmark": "resume",
        "repetitions": repetitions,
        "runs_stored_small": small,
        "runs_stored_large": large,
        "resume_ms_1k": round(ms_small, 2),
        "resume_ms_100k" if not quick else "resume_ms_10k": round(ms_large, 2),
        "ratio_large_to_small": round(ms_large / ms_small, 2),
    }
