"""Group commit: runs per second with 1, 4 and 16 runs driven at once, with and without it.

Each level drives dry runs over the transition benchmark's in-memory ports on N threads of one
process sharing one store, as `tradefsm worker --concurrency N` does, on SQLite (and on
PostgreSQL when TRADEFSM_BENCH_PG_URL names a server). Reported: runs/s per level with group
commit and without, and how many transitions one commit served on average.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.transition import AS_OF, Account, Market, Signals
from fsm.clock import SystemClock
from fsm.engine import Engine
from fsm.ids import UuidFactory
from fsm.kinds import Mode
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore

LEVELS = (1, 4, 16)


def _level(url: str, threads: int, runs: int, group: bool) -> tuple[float, float]:
    """Runs/s for ``runs`` dry runs on ``threads`` threads; transitions per commit."""
    db = make_engine(url, pool_size=threads + 2)
    migrate.upgrade(db)
    store = SqlRunStore(db, group_commit=group)

    def drive(lane: int) -> None:
        engine = Engine(store, Ports(Signals(), Market(), Account()),  # type: ignore[arg-type]
                        Settings(), SystemClock(), UuidFactory())  # fmt: skip
        for n in range(lane, runs, threads):
            engine.run(RunRequest(account_id=f"acct-{n}", mode=Mode.DRY_RUN, as_of=AS_OF))

    workers = [threading.Thread(target=drive, args=(lane,)) for lane in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    shared = store.group.writes / store.group.commits if group and store.group.commits else 1.0
    db.dispose()
    return runs / elapsed, shared


def _pg_database(server: str) -> str:
    url = make_url(server)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = f"host={url.host} port={url.port} user={url.username} dbname={url.database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def run(quick: bool = False) -> dict[str, Any]:
    runs = 32 if quick else 160
    result: dict[str, Any] = {"runs_per_level": runs}
    with tempfile.TemporaryDirectory() as tmp:
        backends = {"sqlite": lambda tag: f"sqlite:///{Path(tmp) / f'{tag}.db'}"}
        server = os.environ.get("TRADEFSM_BENCH_PG_URL")
        if server:
            backends["postgresql"] = lambda _tag: _pg_database(server)
        for backend, url_for in backends.items():
            for threads in LEVELS:
                for group in (False, True):
                    tag = f"{backend}_{threads}_{'group' if group else 'single'}"
                    rate, shared = _level(url_for(tag), threads, runs, group)
                    result[f"{tag}_runs_per_s"] = round(rate, 1)
                    if group:
                        result[f"{tag}_transitions_per_commit"] = round(shared, 2)
    return result
