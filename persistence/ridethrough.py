"""Riding a driver's writes through transient database faults.

A write that fails with ``DatabaseUnavailable`` is tried again with jittered exponential
backoff until it succeeds or the budget runs out (``fsm.retries``, the mechanism a step's
tries use too: the first try is a plain call). Before each new try, the write's
``settled`` read says whether the failed try had committed after all (the connection may
drop between the server's commit and its answer): a write is then resolved by reading,
never by writing twice. The fenced writes re-check the run's version and lease owner when
they are tried again, so a run another process took over meanwhile is never written to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, wait_random_exponential

from fsm.errors import DatabaseUnavailable
from fsm.retries import Retry

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
    _retry: Retry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        retry = Retry(retry=_transient, backoff=self._backoff, sleep=self.sleep,
                      within=self.budget_seconds, before_sleep=_unavailable,
                      recovered=_available)  # fmt: skip
        object.__setattr__(self, "_retry", retry)

    def call(self, what: str, attempt: Callable[[], T], run_id: str | None = None) -> T:
        """``attempt()``, tried again through transient faults until the budget runs out;
        then DatabaseUnavailable naming the write and its ``run_id`` (to resume)."""
        try:
            return self._retry(what, attempt)
        except DatabaseUnavailable as exc:
            raise _gave_up(exc, what, self.budget_seconds, run_id) from exc

    def _backoff(self) -> Callable[[RetryCallState], float]:
        return wait_random_exponential(multiplier=self.base_seconds, max=self.max_seconds)

    def write(
        self,
        what: str,
        attempt: Callable[[], None],
        settled: Callable[[], bool],
        run_id: str | None = None,
    ) -> None:
        """``attempt()`` as ``call`` does; before every new try, ``settled()`` reads whether
        the failed try had committed after all, and if so nothing is written again."""
        tried = False

        def once() -> None:
            nonlocal tried
            if tried and settled():
                return  # the earlier try committed; only its answer was lost
            tried = True
            attempt()

        self.call(what, once, run_id)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseUnavailable)


def _unavailable(what: str, state: RetryCallState) -> None:
    """The first fault of a write: one warning (each retry is logged by ``fsm.retries``)."""
    error = state.outcome.exception() if state.outcome else None
    if state.attempt_number == 1 and isinstance(error, DatabaseUnavailable):
        log.warning("database_unavailable", extra={"write": what, "run_id": error.run_id,
                                                   "error": error.message})  # fmt: skip


def _available(what: str, tries: int) -> None:
    log.info("database_available", extra={"write": what, "tries": tries})


def _gave_up(
    exc: DatabaseUnavailable, what: str, budget: float, run_id: str | None
) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"{exc.message} (the {what} was retried for {budget:g} s, TRADEFSM_DB_RETRY_SECONDS)",
        run_id=exc.run_id or run_id,
        state=exc.state,
    )
