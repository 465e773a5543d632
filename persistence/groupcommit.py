"""Group commit: transitions of different runs that are ready together share one commit.

Threads of one process (a worker's) hand their transition's writes to ``GroupCommit.run``.
One commit happens at a time; the thread that gets to commit next takes every write queued
meanwhile and commits them in one transaction, each inside its own savepoint, so a write its
fence refuses (another process moved that run) rolls back alone. Nobody waits on purpose: a
write waits at most for the commit already under way, and under load one durable commit
(one fsync on SQLite) serves many runs. A failed commit fails every write in it, and each
writer's own retry (persistence.ridethrough) settles and tries again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from fsm.errors import TradeFsmError
from persistence.errors import translate
from persistence.hotpath import DriverTransaction, HeldConnections, driver_transaction

Work = Callable[[DriverTransaction], None]


@dataclass(eq=False)
class PendingWrite:
    run_id: str
    work: Work
    flush: bool = True
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    """Commits the writes of concurrent transitions together (see the module docstring)."""

    def __init__(self, engine: Engine, held: HeldConnections | None) -> None:
        self.engine, self.held = engine, held
        self._queued: list[PendingWrite] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self.commits = 0  # how many commits served how many writes: for the benchmark
        self.writes = 0

    def run(self, run_id: str, work: Work, *, flush: bool = True) -> None:
        """Run ``work`` in a shared transaction and return once it is committed: flushed to
        disk unless ``flush`` is False for every write of that commit."""
        write = PendingWrite(run_id, work, flush)
        with self._queue_lock:
            self._queued.append(write)
        with self._commit_lock:
            if not write.done.is_set():  # not yet committed by the previous committer
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._commit(batch)
        if write.error is not None:
            raise write.error

    def _commit(self, batch: list[PendingWrite]) -> None:
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            flush = any(write.flush for write in batch)
            with driver_transaction(self.engine, None, self.held, flush=flush) as tx:
                for n, write in enumerate(batch):
                    tx.cursor.execute(f"SAVEPOINT w{n}")
                    try:
                        write.work(tx)
                    except TradeFsmError as exc:  # refused by its fence: this write only
                        tx.cursor.execute(f"ROLLBACK TO SAVEPOINT w{n}")
                        write.error = exc
                    except dbapi_error as exc:  # e.g. a key another writer stored first
                        tx.cursor.execute(f"ROLLBACK TO SAVEPOINT w{n}")
                        wrapped = sa_exc.DBAPIError.instance(None, None, exc, dbapi_error)
                        write.error = translate(wrapped, write.run_id)
                    tx.cursor.execute(f"RELEASE SAVEPOINT w{n}")
            self.commits += 1
            self.writes += len(batch)
        except BaseException as exc:  # the commit itself failed: so did every write in it
            for write in batch:
                write.error = write.error or exc
        finally:
            for write in batch:
                write.done.set()
