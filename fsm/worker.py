"""Workers: claim queued or abandoned runs and drive them, several at a time.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises claimers), so workers
on several machines never drive the same run; each run is driven under its lease, renewed
with every transition. SIGTERM or SIGINT stops a worker cleanly: it claims nothing more and
finishes the runs it holds.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fsm.engine import Engine
from fsm.errors import DatabaseUnavailable, StorageError, TradeFsmError, WorkerFailed
from fsm.machines.names import TradingState as S
from fsm.records import RunRecord

log = logging.getLogger("tradefsm.worker")
OUTAGE_BACKOFF_MAX = 2.0  # seconds: the longest pause between tries while the database is away


@dataclass
class WorkerReport:
    runs: list[RunRecord] = field(default_factory=list)
    stopped_by: str = "no more work"
    error: TradeFsmError | None = None  # why the worker gave up (its exit code says which)
    stranded: list[str] = field(default_factory=list)  # runs it left: another definition

    def as_json(self) -> dict[str, object]:
        states = Counter(r.state for r in self.runs)
        return {
            "runs": len(self.runs),
            "done": states[S.DONE],
            "failed": states[S.FAILED],
            "stopped_by": self.stopped_by,
            "error": self.error.message if self.error else None,
            "run_ids": [r.run_id for r in self.runs],
            "stranded": self.stranded,
        }


class Outage:
    """A database outage as the worker's threads see it: a log line when it starts and when
    it ends (not one per retry), and how long it has lasted."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._lock = threading.Lock()

    def failed(self, error: DatabaseUnavailable) -> float:
        """Record a failure; seconds since the outage began."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                log.warning("database_outage", extra={"error": error.message})
            return time.monotonic() - self._since

    def recovered(self) -> None:
        with self._lock:
            if self._since is not None:
                seconds = round(time.monotonic() - self._since, 1)
                log.warning("database_back", extra={"outage_seconds": seconds})
                self._since = None


class Worker:
    """Claims runs and drives them on ``concurrency`` threads, each with its own engine.

    A database outage pauses claiming (jittered backoff); runs a thread held when its writes
    gave up are resumed by that thread once the database answers again. Past
    ``outage_seconds`` of outage, or on an unexpected error, the worker stops: its report
    carries the error, and the leases it holds are released where the database allows.
    """

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
        outage_seconds: float = 300,
    ) -> None:
        self.engine_factory = engine_factory
        self.concurrency = concurrency
        self.max_runs = max_runs
        self.idle_exit = idle_exit
        self.poll_seconds = poll_seconds
        self.outage_seconds = outage_seconds
        self.stopping = threading.Event()
        self.report = WorkerReport()
        self.outage = Outage()
        self._lock = threading.Lock()
        self._claimed = 0
        self._looked_for_stranded = False
        self.seal = seal  # signs a digest of changed runs (audit seal), every seal_every seconds
        self.seal_every = seal_every

    def run(self) -> WorkerReport:
        with self.stop_signals():
            threads = [
                threading.Thread(target=self._thread, name=f"worker-{n}", daemon=True)
                for n in range(self.concurrency)
            ]
            for thread in threads:
                thread.start()
            sealed_at = time.monotonic()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # short joins keep the main thread free for signals
                    if self.seal and time.monotonic() - sealed_at >= self.seal_every:
                        self._seal()
                        sealed_at = time.monotonic()
            if self.seal:
                self._seal()  # what the worker drove is anchored before it exits
        return self.report

    @contextlib.contextmanager
    def stop_signals(self) -> Iterator[None]:
        """Within the block SIGTERM and SIGINT stop this worker gracefully (main thread only):
        a command enters it before it opens a port a supervisor may already signal."""
        previous = self._install_stop_handlers()
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _seal(self) -> None:
        assert self.seal is not None
        try:
            self.seal()
        except TradeFsmError as exc:  # the next seal covers what this one missed
            log.warning("seal_failed", extra={"error": exc.message})

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

    def give_up(self, stopped_by: str, error: TradeFsmError) -> None:
        with self._lock:
            if self.report.error is None:
                self.report.stopped_by, self.report.error = stopped_by, error
        self.stopping.set()

    def take_slot(self) -> bool:
        with self._lock:
            if self.max_runs is not None and self._claimed >= self.max_runs:
                self.report.stopped_by = "max runs"
                return False
            self._claimed += 1
            return True

    def give_back_slot(self) -> None:
        with self._lock:
            self._claimed -= 1

    def _thread(self) -> None:
        lane = _Lane(self)
        try:
            lane.loop()
        except Exception as exc:  # a defect: stop the worker with one line, not a dead thread
            log.error("worker_failed", extra={"error": repr(exc)})
            self.give_up("error", WorkerFailed(f"a worker thread failed: {exc!r}"))
        finally:
            lane.release()

    def saw_stranded(self, engine: Engine) -> None:
        """Report, once, the runs this worker leaves because they are pinned to another
        machine definition (``fsm.pinning``): `tradefsm runs migrate` moves them."""
        if self._looked_for_stranded:
            return
        stranded = [r.run_id for r in engine.stranded()]
        with self._lock:
            if self._looked_for_stranded:
                return
            self._looked_for_stranded = True
            self.report.stranded = stranded
        if stranded:
            log.warning(
                "stranded_runs",
                extra={
                    "runs": len(stranded),
                    "run_ids": stranded,
                    "definition": engine.definition.definition_hash,
                },
            )

    def drove(self, run: RunRecord) -> None:
        with self._lock:
            self.report.runs.append(run)
        log.info("worker_drove", extra={"run_id": run.run_id, "state": run.state})


class _Lane:
    """One worker thread: its engine, its backoff through outages, the runs it holds."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.engine: Engine | None = None
        self.failures = 0  # consecutive database failures, for the backoff
        self.recovering = False  # runs may be held under this lane's lease

    def loop(self) -> None:
        w = self.worker
        idle_since = time.monotonic()
        while not w.stopping.is_set():
            try:
                busy = self._work()
            except DatabaseUnavailable as exc:
                self._wait_out(exc)
                idle_since = time.monotonic()
                continue
            except StorageError as exc:  # not transient (a dropped table, a refused login)
                w.give_up("database error", exc)
                return
            except TradeFsmError as exc:  # lost a run to another driver, or refused: go on
                log.warning("worker_run_stopped", extra={"run_id": exc.run_id,
                                                         "error": exc.message})  # fmt: skip
                busy = False  # no progress: a worker refused every claim still exits when idle
            else:
                self.failures = 0
                w.outage.recovered()
            if busy is None:
                return  # max runs reached
            if busy:
                idle_since = time.monotonic()
            elif w.idle_exit is not None and time.monotonic() - idle_since > w.idle_exit:
                return
            else:
                w.stopping.wait(w.poll_seconds)

    def _work(self) -> bool | None:
        """Resume the runs held since an outage, else claim one; None when out of slots."""
        w = self.worker
        if self.engine is None:
            self.engine = w.engine_factory()
            w.saw_stranded(self.engine)
        engine = self.engine
        if self.recovering:
            held = engine.held()
            self.recovering = False
            for stopped in held:
                w.drove(engine.resume(stopped.run_id))
            if held:
                return True
        if not w.take_slot():
            return None
        try:
            run = engine.claim()
        except BaseException:
            w.give_back_slot()  # a run it may have claimed is resumed as a held run
            raise
        if run is None:
            w.give_back_slot()
            return False
        w.drove(run)
        return True

    def _wait_out(self, error: DatabaseUnavailable) -> None:
        w = self.worker
        self.recovering = True
        lasted = w.outage.failed(error)
        if lasted > w.outage_seconds:
            w.give_up("database outage", DatabaseUnavailable(
                f"the database stayed unavailable for more than {w.outage_seconds:g} s "
                f"(TRADEFSM_WORKER_DB_OUTAGE_SECONDS): {error.message}"))  # fmt: skip
            return
        self.failures += 1
        pause = random.uniform(0, min(OUTAGE_BACKOFF_MAX, 0.1 * 2**self.failures))
        w.stopping.wait(pause)

    def release(self) -> None:
        """Leave the runs this lane holds to other workers at once, where the database lets."""
        if self.engine is None or not self.recovering:
            return
        with contextlib.suppress(TradeFsmError):  # still unreachable: the leases expire
            self.engine.release_held()
