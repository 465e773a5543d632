"""The recorded guard decisions a replay reads (``fsm.replay``), on an engine opened read-only.

One query joins the ledger with its runs, filtered as `runs list` filters (account, created
since), and yields each row that committed guard decisions, in run and seq order. It only
reads: on SQLite the engine opens the file read-only, on PostgreSQL every transaction is
read-only (``make_engine(read_only=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select

from fsm.machines.names import TradingState as S
from fsm.ports import RunFilter
from fsm.records import AllocationAnalysis, RebalancePlan
from fsm.replay import RecordedTransition
from fsm.replaystrategy import RecordedRun
from persistence.errors import translate_errors
from persistence.runfilter import run_conditions
from persistence.tables import checkpoints, ledger, runs

BATCH = 5000
ANALYSIS, PLANNING = S.ANALYZING.value, S.PLANNING.value
STATES = (ANALYSIS, PLANNING)
COLUMNS = (ledger.c.run_id, ledger.c.seq, ledger.c.event, ledger.c.source,
           runs.c.account_id, runs.c.mode, ledger.c.guards)  # fmt: skip


def recorded_transitions(engine: Engine, query: RunFilter) -> Iterator[RecordedTransition]:
    """Every ledger row with guard decisions of the runs ``query`` selects."""
    stmt = (
        select(*COLUMNS)
        .join(runs, runs.c.run_id == ledger.c.run_id)
        .where(*run_conditions(query, engine.dialect))
        .order_by(ledger.c.run_id, ledger.c.seq)
        .execution_options(yield_per=BATCH)
    )
    with translate_errors(), engine.connect() as conn:
        for row in conn.execute(stmt):
            if row.guards:
                yield RecordedTransition(row.run_id, row.seq, row.event, row.source,
                                         row.account_id, row.mode, row.guards)  # fmt: skip


def recorded_runs(engine: Engine, query: RunFilter) -> list[RecordedRun]:
    """Every run ``query`` selects that recorded a plan: its last analysis checkpoint and its
    last plan (``fsm.replaystrategy``)."""
    stmt = (
        select(
            runs.c.run_id,
            runs.c.account_id,
            runs.c.mode,
            runs.c.as_of,
            checkpoints.c.state,
            checkpoints.c.output,
        )
        .join(runs, runs.c.run_id == checkpoints.c.run_id)
        .where(checkpoints.c.state.in_(STATES), *run_conditions(query, engine.dialect))
        .order_by(checkpoints.c.run_id, checkpoints.c.seq)
    )
    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    with translate_errors(), engine.connect() as conn:
        for row in conn.execute(stmt):
            found.setdefault(row.run_id, (row, {}))[1][row.state] = row.output
    return [_run(row, outputs) for row, outputs in found.values() if set(STATES) <= outputs.keys()]


def _run(row: Any, outputs: dict[str, Any]) -> RecordedRun:
    analysis = AllocationAnalysis.model_validate(outputs[ANALYSIS])
    plan = RebalancePlan.model_validate(outputs[PLANNING])
    return RecordedRun(row.run_id, row.account_id, row.mode, row.as_of, analysis, plan)
