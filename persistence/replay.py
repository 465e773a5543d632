"""The recorded guard decisions a replay reads (``fsm.replay``), on an engine opened read-only.

One query joins the ledger with its runs, filtered as `runs list` filters (account, created
since), and yields each row that committed guard decisions, in run and seq order. It only
reads: on SQLite the engine opens the file read-only, on PostgreSQL every transaction is
read-only (``make_engine(read_only=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select

from fsm.ports import RunFilter
from fsm.replay import RecordedTransition
from persistence.errors import translate_errors
from persistence.runfilter import run_conditions
from persistence.tables import ledger, runs

BATCH = 5000
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
