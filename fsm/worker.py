"""Workers: claim queued or abandoned runs and drive them, several at a time.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises claimers), so workers
on several machines never drive the same run; each run is driven under its lease, renewed
with every transition. SIGTERM or SIGINT stops a worker cleanly: it claims nothing more and
finishes the runs it holds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fsm.engine import Engine
from fsm.records import RunRecord

log = logging.getLogger("tradefsm.worker")


@dataclass
class WorkerReport:
    runs: list[RunRecord] = field(default_factory=list)
    stopped_by: str = "no more work"

    def as_json(self) -> dict[str, object]:
        states = Counter(r.state for r in self.runs)
        return {
            "runs": len(self.runs),
            "done": states["done"],
            "failed": states["failed"],
            "stopped_by": self.stopped_by,
            "run_ids": [r.run_id for r in self.runs],
        }


class Worker:
    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        *,
        concurrency: int = 1,
        max_runs: int | None = None,
        idle_exit: float | None = None,
        poll_seconds: float = 0.2,
        seal: Callable[[], object] | None = None,
        seal_every: float = 300,
    ) -> None:
        self.engine_factory = engine_factory
        self.concurrency = concurrency
        self.max_runs = max_runs
        self.idle_exit = idle_exit
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.report = WorkerReport()
        self._lock = threading.Lock()
        self._claimed = 0
        self.seal = seal  # signs a digest of changed runs (audit seal), every seal_every seconds
        self.seal_every = seal_every

    def run(self) -> WorkerReport:
        previous = self._install_stop_handlers()
        try:
            threads = [
                threading.Thread(target=self._loop, name=f"worker-{n}", daemon=True)
                for n in range(self.concurrency)
            ]
            for thread in threads:
                thread.start()
            sealed_at = time.monotonic()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # short joins keep the main thread free for signals
                    if self.seal and time.monotonic() - sealed_at >= self.seal_every:
                        self.seal()
                        sealed_at = time.monotonic()
            if self.seal:
                self.seal()  # what the worker drove is anchored before it exits
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.report

    def _install_stop_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {
            signum: signal.signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)
        }

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.report.stopped_by = signal.Signals(signum).name
        log.info("worker_stopping", extra={"signal": self.report.stopped_by})
        self.stopping.set()

    def _take_slot(self) -> bool:
        with self._lock:
            if self.max_runs is not None and self._claimed >= self.max_runs:
                self.report.stopped_by = "max runs"
                return False
            self._claimed += 1
            return True

    def _give_back_slot(self) -> None:
        with self._lock:
            self._claimed -= 1

    def _loop(self) -> None:
        engine = self.engine_factory()
        idle_since = time.monotonic()
        while not self.stopping.is_set() and self._take_slot():
            run = engine.claim()
            if run is None:
                self._give_back_slot()
                if self.idle_exit is not None and time.monotonic() - idle_since > self.idle_exit:
                    return
                self.stopping.wait(self.poll_seconds)
                continue
            idle_since = time.monotonic()
            with self._lock:
                self.report.runs.append(run)
            log.info("worker_drove", extra={"run_id": run.run_id, "state": run.state})
