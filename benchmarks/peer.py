"""tradefsm against a peer durable-execution engine, DBOS Transact, on the same job.

DBOS runs a 5-step no-op workflow (each step and the workflow durably recorded in its SQLite
system database); tradefsm runs a dry run (5 persisted transitions with guards, hash chain and
checkpoints) over the transition benchmark's in-memory ports. Each side runs in its own
process, alternated, 3 rounds, their SQLite files in the same folder; reported: ms per run for
each (median of the rounds) and ``speedup_vs_dbos``. Needs the optional ``bench`` extra
(``pip install 'tradefsm[bench]'``); without DBOS it reports that it was skipped.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DBOS_SIDE = """
import sys, time
from dbos import DBOS
path, n = sys.argv[1], int(sys.argv[2])
DBOS(config={"name": "peer", "system_database_url": f"sqlite:///{path}",
             "log_level": "ERROR", "console_log_level": "ERROR"})

@DBOS.step()
def step(i: int) -> int:
    return i

@DBOS.workflow()
def flow() -> int:
    return sum(step(i) for i in range(5))

DBOS.launch()
flow()  # warm: tables and caches
started = time.perf_counter()
for _ in range(n):
    flow()
print((time.perf_counter() - started) / n * 1000)
DBOS.destroy()
"""

TRADEFSM_SIDE = """
import sys, time
from pathlib import Path
from benchmarks.transition import AS_OF, Account, Market, Signals
from fsm.attempts import alarm_or_thread
from fsm.clock import SystemClock
from fsm.engine import Engine
from fsm.requests import Ports, RunRequest
from fsm.ids import UuidFactory
from fsm.kinds import Mode
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
path, n = sys.argv[1], int(sys.argv[2])
db = make_engine(f"sqlite:///{path}")
migrate.upgrade(db)
engine = Engine(SqlRunStore(db), Ports(Signals(), Market(), Account()), Settings(),
                SystemClock(), UuidFactory(), timeouts=alarm_or_thread)
def one(k):
    engine.run(RunRequest(account_id=f"acct-{k}", mode=Mode.DRY_RUN, as_of=AS_OF))
one(-1)  # warm
started = time.perf_counter()
for k in range(n):
    one(k)
print((time.perf_counter() - started) / n * 1000)
"""


def _side(script: str, path: Path, runs: int) -> float:
    done = subprocess.run([sys.executable, "-c", script, str(path), str(runs)],
                          capture_output=True, text=True, check=True, timeout=600)  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict[str, Any]:
    if importlib.util.find_spec("dbos") is None:
        return {"skipped": "DBOS Transact is not installed: pip install 'tradefsm[bench]'"}
    runs = 20 if quick else 200
    dbos_ms, tradefsm_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(3):
            dbos_ms.append(_side(DBOS_SIDE, Path(tmp) / f"dbos-{round_}.db", runs))
            tradefsm_ms.append(_side(TRADEFSM_SIDE, Path(tmp) / f"tradefsm-{round_}.db", runs))
    dbos, ours = statistics.median(dbos_ms), statistics.median(tradefsm_ms)
    return {
        "runs_per_round": runs,
        "dbos_ms_per_run": round(dbos, 2),
        "tradefsm_ms_per_run": round(ours, 2),
        "speedup_vs_dbos": round(dbos / ours, 1),
        "dbos_ms_rounds": [round(x, 2) for x in dbos_ms],
        "tradefsm_ms_rounds": [round(x, 2) for x in tradefsm_ms],
    }
