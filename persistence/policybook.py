"""The risk policy's history on SQL (``fsm.policyhistory``), and its part of `audit verify`:
the history's chain, and every run's pinned version against the row it committed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, insert, select
from sqlalchemy.exc import IntegrityError

from fsm import policyhistory
from fsm.audit import Finding
from fsm.errors import ConcurrentModification
from fsm.policyhistory import PolicyChange
from fsm.requests import POLICY_HASH_PARAM, POLICY_PARAM
from persistence.errors import translate_errors
from persistence.hotpath import HeldConnections, read_row, read_rows, read_tuples
from persistence.lenient import DECODE_ERRORS
from persistence.tables import policy_changes, runs

# The version in force: read for every new run, so at the driver level.
HEAD = ("SELECT seq, hash FROM policy_changes WHERE kind IN ('applied', 'approved') "
        "ORDER BY seq DESC LIMIT 1")  # fmt: skip


class SqlPolicyBook:
    """``fsm.policyhistory.PolicyBook`` on the run database (``SqlRunStore`` is one)."""

    engine: Engine
    _held: HeldConnections | None

    def policy_head(self) -> tuple[int, str] | None:
        row = read_row(self.engine, HEAD, self._held)
        return None if row is None else (int(row[0]), str(row[1]))

    def policy_history(self) -> list[PolicyChange]:
        stmt = select(policy_changes).order_by(policy_changes.c.seq)
        return [PolicyChange(**row) for row in read_rows(self.engine, stmt, self._held)]

    def append_policy_change(self, row: PolicyChange) -> None:
        with translate_errors(), self.engine.begin() as conn:
            try:
                conn.execute(insert(policy_changes), [row.__dict__])
            except IntegrityError as exc:
                raise ConcurrentModification(
                    f"policy change {row.seq} was recorded by someone else at the same time; "
                    "nothing was written: look at `tradefsm policy history` and try again"
                ) from exc


def _rows(conn: Connection) -> list[PolicyChange]:
    rows = conn.execute(select(policy_changes).order_by(policy_changes.c.seq)).mappings()
    return [PolicyChange(**row) for row in rows]


def _may_pin(text: str | None) -> bool:
    """Whether a run's params text can hold the policy key: as written, or \\u-escaped (the
    key has no other character JSON could escape). Most runs' params do not: they are not
    decoded."""
    return text is not None and (POLICY_PARAM in text or "\\u" in text)


def _decoded(text: str | None) -> dict[str, Any]:
    try:
        params = json.loads(text or "{}")
    except DECODE_ERRORS:
        return {}
    return params if isinstance(params, dict) else {}


def findings(engine: Engine, run_id: str | None = None) -> list[Finding]:
    """The history's chain, then every run (``run_id``, or all) whose pinned policy version is
    not the row its identity committed."""
    # As text: a params value that does not decode is the identity check's finding, not ours.
    stmt = select(runs.c.run_id, cast(runs.c.params, Text).label("params"))
    if run_id is not None:
        stmt = stmt.where(runs.c.run_id == run_id)
    with translate_errors(run_id), engine.connect() as conn:
        rows = _rows(conn)
    found = policyhistory.history_findings(rows)
    hashes = {r.seq: r.hash for r in rows}
    for run, text in read_tuples(engine, stmt):
        if not _may_pin(text):
            continue
        params = _decoded(text)
        pinned = params.get(POLICY_PARAM)
        if pinned is not None and hashes.get(pinned) != params.get(POLICY_HASH_PARAM):
            said = (f"policy version {pinned} it was planned under is not the row its identity "
                    "committed (the policy history was edited)")  # fmt: skip
            found.append(Finding("policy_changed", run, said, key=policyhistory.TABLE))
    return found
