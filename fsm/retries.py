"""The one retry mechanism: a step's tries and a database write's ride-through both use it.

A ``Retry`` is configured once; each call's first try is a plain call. Only once it has
failed with an error worth another try is tenacity's ``Retrying`` built (it counts the failed
try as try 1), so a call that succeeds at once pays for no retry machinery. Each try that is
followed by a pause is logged the same way (``retrying``: what, which try, the error, the
pause) and counted (``fsm.retrycounts``) whichever caller retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
)
from tenacity.stop import stop_base

from fsm.retrycounts import RETRIES

log = logging.getLogger("tradefsm.retry")
T = TypeVar("T")
Wait = Callable[[RetryCallState], float]
Hook = Callable[[str, RetryCallState], None]


class Retry:
    """How a call is tried again: on errors ``retry`` accepts, pausing as the wait
    ``backoff()`` builds says, until ``attempts`` tries or ``within`` seconds (counted from
    the first try) are spent; then the last error is raised as it was. ``before_sleep(what,
    state)`` runs before each pause, ``recovered(what, tries)`` once a call that failed has
    succeeded. Built once, called for each call: a first try that succeeds runs nothing else.
    """

    __slots__ = ("attempts", "backoff", "before_sleep", "recovered", "retry", "sleep", "within")

    def __init__(
        self,
        *,
        retry: Callable[[BaseException], bool],
        backoff: Callable[[], Wait],
        sleep: Callable[[float], None],
        attempts: int | None = None,
        within: float | None = None,
        before_sleep: Hook | None = None,
        recovered: Callable[[str, int], None] | None = None,
    ) -> None:
        self.retry, self.backoff, self.sleep = retry, backoff, sleep
        self.attempts, self.within = attempts, within
        self.before_sleep, self.recovered = before_sleep, recovered

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        """``call()``, tried again as configured; ``what`` names it in the log."""
        within = self.within
        started = time.monotonic() if within is not None else 0.0
        try:
            return call()
        except Exception as exc:
            if self.attempts == 1 or not self.retry(exc):
                raise
            first = exc
        left = None if within is None else within - (time.monotonic() - started)
        return _after_failure(what, call, first, self, _stop(self.attempts, left))


def _after_failure(
    what: str, call: Callable[[], T], first: Exception, how: Retry, stop: stop_base
) -> T:
    """tenacity's ``Retrying`` around the tries after the first, which failed with ``first``."""
    failed = [first]

    def again() -> T:
        if failed:  # the first try, which failed already: tenacity counts it as try 1
            raise failed.pop()
        return call()

    def pause(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        tried = {"what": what, "attempt": state.attempt_number, "error": str(error)}
        log.info("retrying", extra=tried | {"pause_s": state.upcoming_sleep})
        RETRIES.count(what, error)
        if how.before_sleep is not None:
            how.before_sleep(what, state)

    retrying = Retrying(stop=stop, wait=how.backoff(), retry=retry_if_exception(how.retry),
                        before_sleep=pause, sleep=how.sleep, reraise=True)  # fmt: skip
    result: T = retrying(again)
    if how.recovered is not None:
        how.recovered(what, retrying.statistics["attempt_number"])
    return result


def _stop(attempts: int | None, seconds: float | None) -> stop_base:
    stops: list[stop_base] = []
    if attempts is not None:
        stops.append(stop_after_attempt(attempts))
    if seconds is not None:
        stops.append(stop_after_delay(max(seconds, 0.0)))
    return stop_any(*stops)
