"""The checks of `audit verify` that look at the whole run database rather than one run: the
stored machine definitions, and (with signed digests) runs that are gone."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, bindparam, select

from fsm.audit import Finding
from fsm.canonical import json_or_text, sha256_hex
from persistence.hotpath import DriverStatement
from persistence.lenient import fetch
from persistence.retentionlog import archived
from persistence.tables import definitions, runs

Sealed = Mapping[str, tuple[int, str]]  # run id -> (seq, head hash) from signed digests


def definition_findings(engine: Engine, run_id: str | None = None) -> list[Finding]:
    stmt = select(definitions.c.definition_hash, definitions.c.canonical)
    if run_id is not None:
        used = select(runs.c.definition_hash).where(runs.c.run_id == run_id).scalar_subquery()
        stmt = stmt.where(definitions.c.definition_hash == used)
    statement = DriverStatement(stmt, engine.dialect)
    changed = [
        Finding("definition_changed", None, "the stored machine definition no longer hashes to "
                "its name", key=f"definition {name}")
        for name, canonical in fetch(engine, statement, statement.defaults)
        if sha256_hex(json_or_text(canonical)) != name
    ]  # fmt: skip
    return changed + _missing_definitions(engine, run_id)


def _missing_definitions(engine: Engine, run_id: str | None) -> list[Finding]:
    """Runs whose machine definition row is gone."""
    stmt = (
        select(runs.c.run_id, runs.c.definition_hash)
        .outerjoin(definitions, definitions.c.definition_hash == runs.c.definition_hash)
        .where(
            definitions.c.definition_hash.is_(None),
            *([runs.c.run_id == bindparam("run_id")] if run_id is not None else []),
        )
    )
    statement = DriverStatement(stmt, engine.dialect)
    return [
        Finding("definition_changed", run, f"the machine definition {name} the run ran under "
                "is gone", key=f"definition {name}")
        for run, name in fetch(engine, statement, {"run_id": run_id})
    ]  # fmt: skip


def deleted_runs(engine: Engine, sealed: Sealed) -> list[Finding]:
    """Runs the signed digests sealed that are gone without a tombstone (an archived run has
    one: ``persistence.retentionlog`` checks that it names the sealed head)."""
    if not sealed:
        return []
    statement = DriverStatement(select(runs.c.run_id), engine.dialect)
    present = {run_id for (run_id,) in fetch(engine, statement, {})}
    present |= {row.run_id for row in archived(engine)}
    return [
        Finding("run_deleted", run_id, f"a signed digest sealed it at seq {sealed[run_id][0]}; "
                "the run is gone")
        for run_id in sorted(sealed.keys() - present)
    ]  # fmt: skip
