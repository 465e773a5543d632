"""Retries this process made, counted where every retry passes (``fsm.retries``).

Unlike the other metrics, which are read from the run database, a retry leaves no row of its
own (a database write retried through an outage could not write one), so these counters are
the process's: they start at zero when it starts, and each worker reports its own.
"""

from __future__ import annotations

import threading
from collections import Counter

from fsm.errors import BrokerUnavailable, DatabaseUnavailable

BROKER, DATABASE, STEP = "broker", "database", "step"


def retry_kind(what: str, error: BaseException | None) -> tuple[str, str]:
    """Which counter a retry of ``what`` after ``error`` goes to, and its kind: a broker's
    (``rate_limited`` when it said when to come back, else ``unavailable``), a database
    write's (the write: ``commit transition``…), or another step error's (its type)."""
    if isinstance(error, BrokerUnavailable):
        return BROKER, "rate_limited" if error.retry_after is not None else "unavailable"
    if isinstance(error, DatabaseUnavailable):
        return DATABASE, what
    return STEP, type(error).__name__


class RetryCounts:
    """Retries by (source, kind) since the process started; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, what: str, error: BaseException | None) -> None:
        with self._lock:
            self._counts[retry_kind(what, error)] += 1

    def of(self, source: str) -> dict[str, int]:
        """Kind → retries, for one source."""
        with self._lock:
            return {kind: n for (s, kind), n in self._counts.items() if s == source}


RETRIES = RetryCounts()  # the process's; fsm.metrics reports it
