"""Step attempts: a timeout around each try and tenacity's backoff with jitter between tries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryCallState, wait_random_exponential

from fsm.errors import StepTimeout, TradeFsmError, TransientError
from fsm.settings import Settings

T = TypeVar("T")


class StepCrashed(TradeFsmError):
    """A step raised an error that is not one of tradefsm's own; the run failed with it."""


def call_with_timeout(fn: Callable[[], T], timeout: float, state: str) -> T:
    """Run ``fn`` in a daemon thread; StepTimeout if it has not finished in ``timeout`` s.

    A timed-out thread cannot be killed; it is left to finish on its own. The executing step
    is never retried after a timeout, and on resume it reconciles instead of resending.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"step-{state}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise StepTimeout(f"step {state} did not finish within {timeout:g} s", state=state)
    if "error" in box:
        error = box["error"]
        if isinstance(error, TradeFsmError):
            raise error
        raise StepCrashed(f"{type(error).__name__}: {error}", state=state) from error
    value: T = box["value"]
    return value


def backoff(settings: Settings) -> Callable[[RetryCallState], float]:
    """Exponential backoff with full jitter, capped; a longer retry-after wins."""
    jitter = wait_random_exponential(
        multiplier=settings.retry_base_seconds, max=settings.retry_max_seconds
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None) or 0.0
        return max(float(asked), float(jitter(state)))

    return wait


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TransientError)
