"""Keeps driven runs' leases alive while long steps run, and notices when one is lost.

One daemon thread per process, started at the first step that needs it and shared by every
engine: a step registers its fence and unregisters when it ends (no thread per step).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fsm.errors import ConcurrentModification, StorageError
from fsm.ports import RunStore
from fsm.records import Fence

log = logging.getLogger("tradefsm.lease")
TICK = 0.05  # how often the keeper looks; renewals happen every interval of each run


@dataclass(eq=False)
class Watch:
    """One running step: its store, fence and renewal interval; ``lost`` once taken over."""

    store: RunStore
    fence: Callable[[], Fence]
    interval: float
    renewed_at: float = field(default_factory=time.monotonic)
    lost: bool = False


class _Keeper:
    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(
        self, store: RunStore, fence: Callable[[], Fence], interval: float
    ) -> Iterator[Watch]:
        watch = Watch(store, fence, interval)
        with self._lock:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tradefsm-lease",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        try:
            yield watch
        finally:
            with self._lock:
                self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                due = [w for w in self._watches if not w.lost and now - w.renewed_at >= w.interval]
            for watch in due:
                self._renew(watch)

    @staticmethod
    def _renew(watch: Watch) -> None:
        try:
            watch.store.renew_lease(watch.fence())
            watch.renewed_at = time.monotonic()
        except ConcurrentModification:
            watch.lost = True  # another driver took the run over: this one must stop
            log.warning("lease_lost", extra={"run_id": watch.fence().run_id})
        except StorageError:  # the database is away: the next tick tries again
            pass


KEEPER = _Keeper()
