"""A stop request a process raises on SIGINT or SIGTERM and its drivers obey at safe points.

The handler only records the request: the driver stands down between transitions and before
each order, never half-way through a write, so the run stays resumable and nothing is sent
twice. A second signal while the first is being obeyed stops the process at once (the
default action), for the person who really means it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set once by a signal (or a caller); read by drivers at their safe points."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""

    def request(self, signal_name: str) -> None:
        self.signal_name = signal_name
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request(signal.Signals(signum).name)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one: at once
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def raised_by_code() -> bool:
    """Whether a KeyboardInterrupt seen now was raised by code (a plugin's own), not by a
    person: while ``stop_on_signals`` holds SIGINT, a person's first Ctrl-C only requests a
    stop and only a second one raises, once the first is recorded."""
    handler = signal.getsignal(signal.SIGINT)
    stop = getattr(handler, "__self__", None)
    return isinstance(stop, StopRequest) and not stop.requested


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM request a stop instead of ending the process
    (main thread only; elsewhere the request is never set by a signal)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop._on_signal) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
