"""Runs per second with 1, 2 and 4 worker processes on PostgreSQL.

Each level queues the same number of runs, one per account (so they may run side by side),
against a paper broker whose every call takes 20 ms, like a real broker's API, on the
always-open ``24/7`` calendar (as the day benchmark: the runs trade at any hour). Throughput is
measured from the first run's start to the last run's end, from the ledger and the run rows,
so process start-up is not counted. Uses TRADEFSM_BENCH_PG_URL's server when set (a new
database per level), else a throwaway cluster.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.session import EXCHANGE, always_in_session
from fsm.compose.engines import build_engine
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import ledger, runs
from tests.postgres_cluster import PostgresCluster

BROKER_LATENCY_MS = 20
LEVELS = (1, 2, 4)


def _database(server: str) -> str:
    """A new empty database on the server of ``server`` (a SQLAlchemy URL)."""
    url = make_url(server)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(False)


def _level(url: str, workers: int, runs_count: int, folder: Path) -> float:
    engine = make_engine(url)
    migrate.upgrade(engine)
    always_in_session(url)
    paper = folder / f"paper-{uuid.uuid4().hex[:8]}.db"
    settings = Settings(db=url, paper_db=paper, exchange=EXCHANGE)
    queue = build_engine(settings, SqlRunStore(engine))
    for n in range(runs_count):
        queue.submit(RunRequest(account_id=f"acct-{n}"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")},
        "TRADEFSM_DB": url,
        "TRADEFSM_PAPER_DB": str(paper),
        "TRADEFSM_PAPER_LATENCY_MS": str(BROKER_LATENCY_MS),
        "TRADEFSM_EXCHANGE": EXCHANGE,
        "TRADEFSM_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "fsm"]
    procs = [subprocess.Popen([*command, "worker", "--idle-exit", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]  # fmt: skip
    for proc in procs:
        proc.wait(timeout=600)
    with engine.connect() as conn:
        done = conn.execute(select(func.count()).where(runs.c.status == "done")).scalar_one()
        first = conn.execute(select(func.min(ledger.c.occurred_at)).where(
            ledger.c.event == "start")).scalar_one()  # fmt: skip
        last = conn.execute(select(func.max(runs.c.updated_at))).scalar_one()
    engine.dispose()
    assert done == runs_count, f"{done} of {runs_count} runs done"
    return runs_count / (last - first).total_seconds()


def run(quick: bool = False) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet
    runs_count, repetitions = (8, 1) if quick else (24, 3)
    cluster = None
    server = os.environ.get("TRADEFSM_BENCH_PG_URL")
    if not server:
        cluster = PostgresCluster().start()
        server = f"postgresql+psycopg://{cluster.user}@127.0.0.1:{cluster.port}/postgres"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rates = {w: statistics.median(
                _level(_database(server), w, runs_count, Path(tmp)) for _ in range(repetitions))
                for w in LEVELS}  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()
    return {
        "benchmark": "scale",
        "runs_per_level": runs_count,
        "repetitions": repetitions,
        "broker_latency_ms": BROKER_LATENCY_MS,
        **{f"runs_per_s_{w}": round(r, 2) for w, r in rates.items()},
        "ratio_2_to_1": round(rates[2] / rates[1], 2),
        "ratio_4_to_1": round(rates[4] / rates[1], 2),
    }
