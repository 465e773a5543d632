"""The web console on a large history: the runs page and a run page, served over HTTP.

The database is the audit benchmark's (about 167k runs, 1M ledger rows with checkpoints and
orders, SQLite), opened read-only as `tradefsm console` opens it. Each page is fetched through
the ASGI app in process (no socket, so the figure is the console's own work), several times;
reported: the median milliseconds of the runs page (newest first, with its counts), of a
filtered runs page, of a run page (ledger, checkpoints, orders, its verification, its
retries), of the search box (a correlation id, which opens its run, and a run id prefix), of
the failure filter, of the approval queue and of time in state (its default window, the
console's clock at the history's end), of the verify page asked to check every run (which
it refuses in so big a history, naming the command), of a run's diagram (drawn once, then
kept), and of Prometheus scrapes of /metrics two hours after
the history's last run: the first of a process (the whole history) and the next ones (totals
of finished runs kept). Target: each page ≤ 100 ms; a scrape after the first ≤ 250 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # the test client's transport: fine for measuring
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from benchmarks.audit import build
from fsm.clock import FixedClock
from fsm.console.app import Console
from fsm.ports import RunFilter
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.metrics import SqlMetrics
from persistence.store import SqlRunStore


def _median_ms(client: TestClient, path: str, repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return round(statistics.median(times), 1)


def run(quick: bool = False) -> dict[str, Any]:
    rows_wanted, repetitions = (30_000, 3) if quick else (1_000_000, 9)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        build(path, rows_wanted).engine.dispose()
        reader = make_engine(f"sqlite:///{path}", read_only=True)
        store = SqlRunStore(reader)
        [newest] = store.list_runs(RunFilter(limit=1))
        clock = FixedClock(newest.updated_at)  # the history's end: time in state's window
        an_hour_on = FixedClock(newest.created_at + timedelta(hours=2), step=timedelta(0))
        metrics = SqlMetrics(reader, an_hour_on)  # scraped after the history, not amid it
        client = TestClient(Console(store, SqlAudit(reader), clock=clock, metrics=metrics).app())
        first_scrape_ms = _median_ms(client, "/metrics", 1)  # reads the whole history
        drawing = f"/runs/{newest.run_id}/diagram.svg"
        result = {
            "ledger_rows": rows_wanted,
            "runs_page_ms": _median_ms(client, "/", repetitions),
            "runs_filtered_ms": _median_ms(
                client, f"/?account={newest.account_id}&status=done", repetitions
            ),
            "run_page_ms": _median_ms(client, f"/runs/{newest.run_id}", repetitions),
            "search_by_correlation_id_ms": _median_ms(
                client, f"/?q={newest.correlation_id}", repetitions
            ),
            "search_by_prefix_ms": _median_ms(client, f"/?q={newest.run_id[:8]}", repetitions),
            "runs_by_failure_ms": _median_ms(client, "/?failure=cancelled", repetitions),
            "approvals_ms": _median_ms(client, "/approvals", repetitions),
            "time_in_state_ms": _median_ms(client, "/time-in-state", repetitions),
            "verify_page_ms": _median_ms(client, "/verify?go=1", repetitions),  # refused: big
            "diagram_svg_ms": _median_ms(client, drawing, repetitions),  # drawn once, kept
            "metrics_first_scrape_ms": first_scrape_ms,
            "metrics_scrape_ms": _median_ms(client, "/metrics", repetitions),
        }
        reader.dispose()
    return result
