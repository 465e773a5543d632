"""Following a run from outside: its ledger rows as they are committed, by any process."""

from __future__ import annotations

import time
from collections.abc import Callable

from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunStore
from fsm.records import LedgerEntry, RunRecord

STOPS = frozenset(TRADING_SPECS.definition.final_states) | TRADING_SPECS.parked_states


def follow(
    store: RunStore,
    run_id: str,
    interval: float,
    timeout: float | None,
    on_entry: Callable[[LedgerEntry], None],
    sleep: Callable[[float], None] = time.sleep,
) -> RunRecord:
    """Call ``on_entry`` for every ledger row of the run, old ones first, then each new one
    as it is committed, until the run ends or parks (or ``timeout`` seconds pass); the run
    as last read. Reads only: any number of people may follow a run a worker drives."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    while True:
        run = store.get_run(run_id)  # read before the ledger: its last row is then included
        for entry in store.ledger(run_id)[seen:]:
            on_entry(entry)
            seen = entry.seq
        if run.state in STOPS or (deadline is not None and time.monotonic() >= deadline):
            return run
        sleep(interval)
