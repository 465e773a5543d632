"""Test-only: the product's wall clock read during market hours, in every Python process.

The suite drives paper runs through the real CLI, whose Clock is ``fsm.clock.SystemClock``;
the ``market_open`` guard refuses them at night and on week-ends. tests/conftest.py moves that
clock by ``TESTS_CLOCK_SHIFT_SECONDS`` (a session of the exchange, half an hour after its open,
at the start of the test session; time still flows) in the test process, by importing this
module, and in every process it starts, by putting this folder on PYTHONPATH: Python imports a
``sitecustomize`` module at start-up. Users never get this folder: their clock is the wall's.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

SHIFT = "TESTS_CLOCK_SHIFT_SECONDS"


def shift_system_clock(seconds: float) -> None:
    try:
        from fsm.clock import SystemClock
    except ImportError:  # a Python without tradefsm, started by a test: nothing to move
        return

    wall = getattr(SystemClock.now, "__wrapped__", SystemClock.now)
    moved = timedelta(seconds=seconds)

    def now(self: SystemClock) -> datetime:
        return wall(self) + moved

    now.__wrapped__ = wall  # type: ignore[attr-defined]
    SystemClock.now = now  # type: ignore[method-assign]


if SHIFT in os.environ:
    shift_system_clock(float(os.environ[SHIFT]))
