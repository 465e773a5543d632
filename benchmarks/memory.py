"""Memory over many runs in one process: RSS after 10,000 sequential runs vs after the first 100.

Dry runs over in-memory ports (the transition benchmark's) on a SQLite file, one engine, as
a long-lived worker would. Reported: RSS after the first 100 runs and after all of them, in
MiB, and the growth (target: ≤ 20 MiB). A leak per run (a cache that keeps every run, a
record kept alive by a log handler) shows here long before it shows in production.
"""

from __future__ import annotations

import resource
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.transition import AS_OF, Account, Market, Signals
from fsm.attempts import alarm_or_thread
from fsm.clock import SystemClock
from fsm.engine import Engine
from fsm.ids import UuidFactory
from fsm.kinds import Mode
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore


def _rss_mib() -> float:
    """The resident set now (Linux: from /proc; the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool = False) -> dict[str, Any]:
    runs = 500 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'memory.db'}")
        migrate.upgrade(db)
        engine = Engine(
            SqlRunStore(db), Ports(Signals(), Market(), Account()),  # type: ignore[arg-type]
            Settings(), SystemClock(), UuidFactory(), timeouts=alarm_or_thread,
        )  # fmt: skip
        after_100 = 0.0
        for n in range(runs):
            engine.run(RunRequest(account_id=f"acct-{n}", mode=Mode.DRY_RUN, as_of=AS_OF))
            if n == 99:
                after_100 = _rss_mib()
        after_all = _rss_mib()
        db.dispose()
    return {
        "runs": runs,
        "rss_after_100_mib": round(after_100, 1),
        "rss_after_all_mib": round(after_all, 1),
        "rss_growth_mib": round(after_all - after_100, 1),
    }
