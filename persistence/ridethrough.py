"""Riding a driver's writes through transient database faults.

A write that fails with ``DatabaseUnavailable`` is tried again with jittered exponential
backoff until it succeeds or the budget runs out. Before each new try, the write's
``settled`` read says whether the failed try had committed after all (the connection may
drop between the server's commit and its answer): a write is then resolved by reading,
never by writing twice. The fenced writes re-check the run's version and lease owner when
they are tried again, so a run another process took over meanwhile is never written to.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fsm.errors import DatabaseUnavailable

log = logging.getLogger("tradefsm.database")
T = TypeVar("T")


@dataclass(frozen=True)
class RideThrough:
    """How long, and how often, a write is tried again through a transient database fault.

    ``budget_seconds`` bounds the whole retry (0: fail at the first fault); the pause before
    try n is uniform in [0, min(max_seconds, base_seconds * 2**n)] ("full jitter"), so
    workers coming back from the same outage do not retry in step.
    """

    budget_seconds: float = 60.0
    base_seconds: float = 0.05
    max_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, what: str, attempt: Callable[[], T]) -> T:
        """``attempt()``, tried again through transient faults until the budget runs out."""
        deadline = time.monotonic() + self.budget_seconds
        tries = 0
        while True:
            try:
                result = attempt()
            except DatabaseUnavailable as exc:
                if time.monotonic() >= deadline:
                    raise _gave_up(exc, what, self.budget_seconds) from exc
                if tries == 0:
                    log.warning("database_unavailable", extra={"write": what, "run_id": exc.run_id,
                                                               "error": exc.message})  # fmt: skip
                self.sleep(random.uniform(0, min(self.max_seconds, self.base_seconds * 2**tries)))
                tries += 1
                continue
            if tries:
                log.info("database_available", extra={"write": what, "tries": tries + 1})
            return result

    def write(self, what: str, attempt: Callable[[], None], settled: Callable[[], bool]) -> None:
        """``attempt()`` as ``call`` does; before every new try, ``settled()`` reads whether
        the failed try had committed after all, and if so nothing is written again."""
        tried = False

        def once() -> None:
            nonlocal tried
            if tried and settled():
                return  # the earlier try committed; only its answer was lost
            tried = True
            attempt()

        self.call(what, once)


def _gave_up(exc: DatabaseUnavailable, what: str, budget: float) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"{exc.message} (the {what} was retried for {budget:g} s, TRADEFSM_DB_RETRY_SECONDS)",
        run_id=exc.run_id,
        state=exc.state,
    )
