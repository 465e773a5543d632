"""Step attempts: a timeout around each try and tenacity's backoff with jitter between tries."""

from __future__ import annotations

import contextvars
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from tenacity import RetryCallState, wait_random_exponential

from fsm.errors import StepCrashed, StepTimeout, TradeFsmError
from fsm.records import StepAttempt
from fsm.redaction import redact
from fsm.settings import Settings

T = TypeVar("T")
TimeoutRunner = Callable[[Callable[[], Any], float, str], Any]
_HAS_TIMER = hasattr(signal, "setitimer")
# What the step attempt under way is waiting for (a plugin, named), innermost last: shared by
# the attempt's thread and the one that times it, so a timeout names what did not return.
_RUNNING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "tradefsm_running", default=None
)


@contextmanager
def running(what: str) -> Iterator[None]:
    """Mark ``what`` (a plugin's title) as under way, so that a step timeout meanwhile names it."""
    waiting = _RUNNING.get()
    if waiting is None:  # not inside a timed step attempt: nothing to tell
        yield
        return
    waiting.append(what)
    try:
        yield
    finally:
        waiting.pop()


def _timed_out(state: str, timeout: float, waiting: list[str]) -> StepTimeout:
    said = f"step {state} did not finish within {timeout:g} s"
    if waiting:
        said = f"{waiting[-1]} did not return within {timeout:g} s, the timeout of step {state}"
    return StepTimeout(said, state=state)


class ProcessAlarm:
    """Step timeouts for a program that owns its process and its SIGALRM (the CLI, a worker).

    In the main thread a real-time interval timer interrupts the step: the SIGALRM handler is
    installed at the first such step and stays, so each step only arms and disarms the timer
    (a stray alarm after a step ended is ignored); elsewhere it falls back to ``in_thread``.
    A library caller never gets it unless it injects it. The executing step is never retried
    after a timeout: on resume it reconciles instead.
    """

    def __init__(self) -> None:
        self._step: tuple[str, float, list[str]] | None = None  # the step the timer is armed for
        self._installed = False

    def __call__(self, fn: Callable[[], T], timeout: float, state: str) -> T:
        """Run ``fn``; StepTimeout if it has not finished within ``timeout`` seconds."""
        if threading.current_thread() is not threading.main_thread() or not _HAS_TIMER:
            return in_thread(fn, timeout, state)
        if not self._installed:
            signal.signal(signal.SIGALRM, self._expire)
            self._installed = True
        waiting: list[str] = []
        token = _RUNNING.set(waiting)
        self._step = (state, timeout, waiting)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return as_step_error(fn, state)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._step = None
            _RUNNING.reset(token)

    def _expire(self, _signum: int, _frame: object) -> None:
        if self._step is None:
            return  # the step ended just before the timer fired: nothing to stop
        raise _timed_out(*self._step)


# One per process: its handler is installed once, by the first step that uses it.
alarm_or_thread = ProcessAlarm()


def as_step_error(fn: Callable[[], T], state: str) -> T:
    """Run ``fn``; a port's own exception becomes StepCrashed (typed, with its message)."""
    try:
        return fn()
    except TradeFsmError:
        raise
    except Exception as exc:  # a port's own error: the run fails with it, typed
        raise StepCrashed(f"{type(exc).__name__}: {_text(exc)}", state=state) from exc


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a port's exception whose __str__ fails still fails the run, typed
        return "<its message could not be read>"


def in_thread(fn: Callable[[], T], timeout: float, state: str) -> T:
    """The library's default: the step runs in a helper thread, touching no process-wide
    signal or timer; on timeout the thread is left to finish on its own (Python cannot stop
    it), which is why the executing step never retries after a timeout."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = as_step_error(fn, state)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    waiting: list[str] = []
    token = _RUNNING.set(waiting)
    try:  # the caller's trace context goes with the step, and what it waits for
        caller = contextvars.copy_context()
    finally:
        _RUNNING.reset(token)
    thread = threading.Thread(target=caller.run, args=(target,), name=f"step-{state}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _timed_out(state, timeout, waiting)
    if "error" in box:
        raise box["error"]
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


def attempt_record(run_id: str, state: str, attempt: int, span: tuple[datetime, datetime],
                   error: TradeFsmError | None, secrets: Sequence[str]) -> StepAttempt:  # fmt: skip
    """The record of one try of a step (``span``: started, finished), its error redacted."""
    return StepAttempt(
        run_id=run_id, state=state, attempt=attempt, started_at=span[0], finished_at=span[1],
        outcome="error" if error else "ok", error_type=error.error_type if error else None,
        error_message=redact(error.message, secrets) if error else None,
    )  # fmt: skip
