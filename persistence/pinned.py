"""The stored machine definitions as operators see them, and the one write that moves a run
to another definition (``fsm.migration``): its ledger row and the re-pinned run row, in one
transaction fenced by the run's version."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, func, select, update

from fsm.errors import ConcurrentModification
from fsm.records import LedgerEntry, RunRecord
from persistence import mapping
from persistence.errors import translate_errors
from persistence.hotpath import DriverStatement, HeldConnections, driver_transaction
from persistence.tables import definitions, insert_written, ledger, runs

_REPIN = (
    update(runs)
    .where(runs.c.run_id == bindparam("b_run_id"), runs.c.version == bindparam("b_version"))
    .values({c: bindparam(c) for c in ("definition_hash", "version", "head_hash", "updated_at")})
)


class PinnedDefinitions:
    """The definitions part of the SQL run store (``SqlRunStore`` is one)."""

    engine: Engine
    _held: HeldConnections | None

    def definition_runs(self) -> dict[str, dict[str, int]]:
        """Every stored definition's hash → its runs counted by status (empty: none)."""
        counted = (
            select(definitions.c.definition_hash, runs.c.status, func.count(runs.c.run_id))
            .outerjoin(runs, runs.c.definition_hash == definitions.c.definition_hash)
            .group_by(definitions.c.definition_hash, runs.c.status)
        )
        found: dict[str, dict[str, int]] = {}
        with translate_errors(), self.engine.connect() as conn:
            for name, status, count in conn.execute(counted):
                found.setdefault(name, {})
                if status is not None:
                    found[name][status] = count
        return found

    def repin_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        dialect = self.engine.dialect
        values = {
            "b_run_id": run.run_id, "b_version": run.version - 1,
            "definition_hash": run.definition_hash, "version": run.version,
            "head_hash": run.head_hash, "updated_at": run.updated_at,
        }  # fmt: skip
        with driver_transaction(self.engine, run.run_id, self._held) as tx:
            if tx.execute(DriverStatement(_REPIN, dialect), values) != 1:
                raise ConcurrentModification(
                    f"run {run.run_id} moved on while it was being migrated; nothing was "
                    "written", run_id=run.run_id, state=run.state,
                )  # fmt: skip
            tx.execute(DriverStatement(insert_written(ledger), dialect), mapping.ledger_row(entry))
