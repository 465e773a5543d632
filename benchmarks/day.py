"""A rebalance day on PostgreSQL: N accounts, W worker processes of T runs each.

``python -m benchmarks day --accounts N --workers W --threads T --broker-latency-ms L
[--prefill-finished M] --json``. Queues one paper run per account under the trading day's
idempotency key (``trading-day:ACCOUNT:DAY``, as ``submit --trading-day auto`` queues it;
the risk policy's exchange is the always-open ``24/7`` calendar, so the day runs at any
hour), optionally after M finished runs bulk-copied into the table, then starts W
``tradefsm worker --concurrency T`` processes against a paper broker whose every call takes
L ms. A sampler beside them times the claim's query
(``claimable_query``) and reads the connections, the runs table's and the ledger's size and
dead tuples through the day. At the end it checks that every run is done, that the broker
holds each order once, and that ``audit verify`` finds nothing in the day's runs. Uses
TRADEFSM_BENCH_PG_URL's server when set (a new database), else a throwaway cluster.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, text

from benchmarks.scale import _database
from benchmarks.session import EXCHANGE, always_in_session
from fsm.calendar import calendar_for
from fsm.compose.engines import build_engine
from fsm.requests import RunRequest
from fsm.schedule import submit_for_trading_day
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.leases import claimable_query
from persistence.store import SqlRunStore
from persistence.verify import verify
from tests.postgres_cluster import PostgresCluster

PREFILL_ID = "prefilled-"  # the run ids of the bulk-copied finished runs
SAMPLE_EVERY_S = 0.2
HEALTH = """SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
  pg_total_relation_size('runs'), pg_total_relation_size('ledger'),
  (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'runs'),
  (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'ledger'),
  (SELECT count(*) FROM runs WHERE status IN ('queued', 'active'))"""


@dataclass(frozen=True)
class Day:
    """What one day runs: accounts, worker processes, runs per process, broker latency."""

    accounts: int = 2_000
    workers: int = 2
    threads: int = 8
    broker_latency_ms: int = 20
    prefill_finished: int = 0
    durability: str = "strict"  # TRADEFSM_DURABILITY of the workers (docs/resume.md)


QUICK = Day(accounts=30, workers=2, threads=4)


def parse(argv: list[str]) -> dict[str, Any]:
    """The day's own options, left over by ``python -m benchmarks``: those given."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks day")
    for name, default in Day().__dict__.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default))
    return {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}


@dataclass
class Sampler:
    """Reads the database's health every SAMPLE_EVERY_S seconds while the workers run."""

    url: str
    claims_ms: list[float] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        engine = make_engine(self.url)
        start = time.perf_counter()
        with engine.connect() as conn:
            while not self.stop.wait(SAMPLE_EVERY_S):
                self.claims_ms.append(_timed_claim(conn))
                self.samples.append(_health(conn, time.perf_counter() - start))
        engine.dispose()


def _timed_claim(conn: Connection) -> float:
    began = time.perf_counter()
    conn.execute(claimable_query(datetime.now(UTC))).all()
    conn.rollback()
    return (time.perf_counter() - began) * 1000


def _health(conn: Connection, at: float) -> dict[str, float]:
    row = conn.execute(text(HEALTH)).one()
    conn.rollback()
    keys = ("connections", "runs_bytes", "ledger_bytes", "runs_dead", "ledger_dead", "left")
    return {"t_s": round(at, 1), **{k: float(v or 0) - (k == "connections") for k, v in
                                    zip(keys, row, strict=True)}}  # fmt: skip


def _submit(url: str, paper: Path, day: Day) -> float:
    """Queue the day's runs, then prefill; returns the submission rate (runs/s)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    always_in_session(url)
    settings = Settings(db=url, paper_db=paper, exchange=EXCHANGE)
    queue = build_engine(settings, SqlRunStore(engine))
    calendar = calendar_for(EXCHANGE)
    began = time.perf_counter()
    for n in range(day.accounts):
        submit_for_trading_day(queue, RunRequest(account_id=f"acct-{n:06d}"), calendar, "bench")
    rate = day.accounts / (time.perf_counter() - began)
    with engine.begin() as conn:
        _prefill(conn, day.prefill_finished)
        conn.execute(text("ANALYZE runs"))
    engine.dispose()
    return rate


def _prefill(conn: Connection, count: int) -> None:
    """``count`` finished runs, copies of the first queued one, older than the day's."""
    if count:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # a million rows take a while
        conn.execute(text(
            "INSERT INTO runs (run_id, correlation_id, account_id, mode, as_of, state, status,"
            " version, definition_hash, params, head_hash, created_at, updated_at)"
            " SELECT :prefix || g, r.correlation_id, 'old-' || g, r.mode, r.as_of, 'done',"
            " 'done', r.version, r.definition_hash, r.params, r.head_hash,"
            " r.created_at - interval '400 days' + g * interval '1 second', r.updated_at"
            " FROM generate_series(1, :count) g, (SELECT * FROM runs ORDER BY created_at LIMIT 1) r"
        ), {"prefix": PREFILL_ID, "count": count})  # fmt: skip


def _workers(url: str, paper: Path, day: Day) -> float:
    """Run the workers to the end of the queue; returns their CPU seconds."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")},
        "TRADEFSM_DB": url,
        "TRADEFSM_PAPER_DB": str(paper),
        "TRADEFSM_PAPER_LATENCY_MS": str(day.broker_latency_ms),
        "TRADEFSM_LOG_LEVEL": "WARNING",
        "TRADEFSM_EXCHANGE": EXCHANGE,
        "TRADEFSM_DURABILITY": day.durability,
    }
    command = [sys.executable, "-m", "fsm", "worker", "--concurrency", str(day.threads),
               "--idle-exit", "2"]  # fmt: skip
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(day.workers)]  # fmt: skip
    cpu = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


OUTCOME = ("done", "orders", "order_intents", "orders_once", "verify_findings", "ok")
DAY_FIGURES = """SELECT count(*) FILTER (WHERE status = 'done'),
  EXTRACT(EPOCH FROM max(updated_at) - min(started)),
  percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM updated_at - started))
FROM runs JOIN (SELECT run_id, min(occurred_at) AS started FROM ledger WHERE event = 'start'
                GROUP BY run_id) s USING (run_id)"""


def _outcome(url: str, paper: Path, day: Day) -> dict[str, Any]:
    """Runs done, the day's span and p99 run duration, orders once, verify intact."""
    engine = make_engine(url)
    with engine.connect() as conn:
        done, span_s, run_p99_s = conn.execute(text(DAY_FIGURES)).one()
        intents = conn.execute(text("SELECT count(*) FROM order_intents")).scalar_one()
    findings = [f for f in verify(engine).findings
                if not (f.run_id or "").startswith(PREFILL_ID)]  # fmt: skip
    engine.dispose()
    with sqlite3.connect(paper) as broker:
        orders, distinct = broker.execute(
            "SELECT count(*), count(DISTINCT account_id || '/' || client_order_id) FROM orders"
        ).fetchone()
    once = orders == distinct == intents  # every intent at the broker, none twice
    return {"done": done, "span_s": float(span_s), "run_p99_ms": float(run_p99_s) * 1000,
            "orders": orders, "order_intents": intents, "orders_once": once,
            "verify_findings": len(findings),
            "ok": done == day.accounts and once and not findings}  # fmt: skip


def day_figures(server: str, day: Day, folder: Path) -> dict[str, Any]:
    """One day on a new database of ``server``: the figures and whether it ended well."""
    url = _database(server)
    paper = folder / "paper.db"
    submit_rate = _submit(url, paper, day)
    sampler = Sampler(url)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    cpu_s = _workers(url, paper, day)
    sampler.stop.set()
    thread.join(timeout=60)
    outcome = _outcome(url, paper, day)
    samples = sampler.samples
    return {
        "runs_per_s": round(outcome["done"] / outcome["span_s"], 2),
        "claim_p50_ms": round(_percentile(sampler.claims_ms, 0.5), 2),
        "claim_p99_ms": round(_percentile(sampler.claims_ms, 0.99), 2),
        "claim_samples": len(sampler.claims_ms),
        "run_p99_ms": round(outcome["run_p99_ms"], 1),
        "cpu_ms_per_run": round(cpu_s * 1000 / day.accounts, 2),
        "connections": max((s["connections"] for s in samples), default=0),
        "runs_bytes": max((s["runs_bytes"] for s in samples), default=0),
        "ledger_bytes": max((s["ledger_bytes"] for s in samples), default=0),
        "runs_dead_tuples_max": max((s["runs_dead"] for s in samples), default=0),
        "ledger_dead_tuples_max": max((s["ledger_dead"] for s in samples), default=0),
        "samples": samples[:: max(1, len(samples) // 20)],  # about twenty through the day
        "submit_per_s": round(submit_rate, 1),
        **{k: outcome[k] for k in OUTCOME},
    }


def run(quick: bool = False, **options: Any) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet
    day = replace(QUICK if quick else Day(), **options)
    cluster = None
    server = os.environ.get("TRADEFSM_BENCH_PG_URL")
    if not server:
        cluster = PostgresCluster().start()
        server = f"postgresql+psycopg://{cluster.user}@127.0.0.1:{cluster.port}/postgres"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = day_figures(server, day, Path(tmp))
    finally:
        if cluster is not None:
            cluster.stop()
    return {"benchmark": "day", **day.__dict__, "load_avg_1m": os.getloadavg()[0], **figures}
