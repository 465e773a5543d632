"""The audit queries on SQL: indexed filters, chain verification, the export bundle."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, Select, case, false, func, or_, select

from fsm.audit import (
    AuditFilter,
    OrdersBy,
    StateTiming,
    VerifyReport,
    refused_guards,
)
from fsm.canonical import utc_text
from fsm.digests import Anchors
from persistence.bundle import export_bundle as export_evidence
from persistence.coverage import coverage
from persistence.defences import defence_findings
from persistence.errors import translate_errors
from persistence.hotpath import DriverStatement
from persistence.lenient import canonical_time, fetch
from persistence.retentionlog import archive_findings, archived
from persistence.runfilter import between
from persistence.seal import seal, verify_anchored
from persistence.store import run_ids_starting
from persistence.tables import ENTRY_COLUMNS, ledger, order_intents, runs
from persistence.timeinstate import time_in_state
from persistence.verify import verify

VERIFY_BATCH = 5000


class SqlAudit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]:
        """Run ids in the database, then archived ones (audit commands name both)."""
        found = run_ids_starting(self.engine, prefix, limit)
        gone = [t.run_id for t in archived(self.engine) if t.run_id.startswith(prefix)]
        return (found + sorted(gone))[:limit]

    def _rows(self, stmt: Select[Any]) -> list[dict[str, Any]]:
        with translate_errors(), self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]

    def transitions(self, query: AuditFilter) -> list[dict[str, Any]]:
        stmt = (
            select(*ENTRY_COLUMNS, runs.c.account_id, runs.c.definition_hash)
            .join(runs, runs.c.run_id == ledger.c.run_id)
            .where(*_conditions(query))
            .order_by(ledger.c.occurred_at.desc(), ledger.c.run_id, ledger.c.seq.desc())
            .limit(query.limit)
        )
        # Up to `limit` rows: read straight from the cursor, converted to the JSON shape here.
        statement = DriverStatement(stmt, self.engine.dialect)
        with translate_errors():
            return [_ledger_json(statement.columns, values)
                    for values in fetch(self.engine, statement, statement.defaults)]  # fmt: skip

    def rejected(self, query: AuditFilter) -> list[dict[str, Any]]:
        rows = self.transitions(
            AuditFilter(**{**query.__dict__, "rejected": True})  # same filters, refused only
        )
        for row in rows:
            row["guard"] = ", ".join(refused_guards(row["guards"]))
            row["reason"] = "; ".join(g["reason"] for g in row["guards"] if not g["passed"])
        return rows

    def time_in_state(
        self, since: datetime | None, until: datetime | None, now: datetime
    ) -> list[StateTiming]:
        return time_in_state(self.engine, since, until, now)

    def orders(
        self, by: OrdersBy, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        key = runs.c.run_id if by == "run" else runs.c.definition_hash
        filled = func.sum(case((order_intents.c.status == "filled", 1), else_=0))
        stmt = (
            select(
                key.label(by if by == "run" else "definition_hash"),
                func.count(func.distinct(runs.c.run_id)).label("runs"),
                func.count(order_intents.c.client_order_id).label("orders"),
                filled.label("filled"),
            )
            .select_from(order_intents.join(runs, runs.c.run_id == order_intents.c.run_id))
            # Runs of the window first (created_at index), then their intents (run_id index).
            .where(order_intents.c.run_id.in_(select(runs.c.run_id).where(*_created(since, until))))
            .group_by(key)
            .order_by(func.count(order_intents.c.client_order_id).desc(), key)
            .limit(limit)
        )
        keys = ("run", "definition_hash")
        return [{k: v if k in keys else int(v) for k, v in r.items()} for r in self._rows(stmt)]

    def verify(self, run_id: str | None = None, anchors: Anchors | None = None,
               archive: Path | None = None) -> VerifyReport:  # fmt: skip
        """Check every run's chain and commitments; with ``anchors``, the signed digests too;
        with ``archive``, the bundles of archived runs in that folder; verifying every run
        also reports the database's weakened defences."""
        with translate_errors(run_id):
            if anchors is not None:
                report = verify_anchored(self.engine, anchors, run_id)
            else:
                report = verify(self.engine, run_id)
        if archive is not None:
            keys = anchors.public_keys if anchors is not None else ()
            found = archive_findings(self.engine, archive, keys)
            report = replace(report, findings=report.findings + [
                f for f in found if run_id is None or f.run_id == run_id])  # fmt: skip
        if run_id is not None:
            return report  # the defences are the whole database's, not one run's
        weakened = defence_findings(self.engine)  # what keeps the next change out
        return replace(report, findings=report.findings + weakened)

    def coverage(self) -> list[dict[str, Any]]:
        """How each column of the schema and of this database is committed (``coverage``)."""
        with translate_errors():
            return coverage(self.engine)

    def seal(self, key: Ed25519PrivateKey, now: datetime, folder: Path) -> dict[str, Any]:
        """Sign a digest of the runs changed since the last one (`audit seal`)."""
        return seal(self.engine, key, now, folder)

    def export_evidence(self, run_id: str, folder: Path) -> list[Path]:
        """Write the run's evidence bundle: records, covering digest, inclusion proof."""
        return export_evidence(self.engine, run_id, folder)


def _window(since: datetime | None, until: datetime | None) -> list[Any]:
    return between(ledger.c.occurred_at, since, until)


def _created(since: datetime | None, until: datetime | None) -> list[Any]:
    return between(runs.c.created_at, since, until)


def _conditions(q: AuditFilter) -> list[Any]:
    out = _window(q.since, q.until)
    for column, value in (
        (ledger.c.run_id, q.run_id),
        (runs.c.account_id, q.account_id),
        (ledger.c.event, q.event),
        (ledger.c.actor, q.actor),
    ):
        if value is not None:
            out.append(column == value)
    if q.state is not None:
        out.append(or_(ledger.c.source == q.state, ledger.c.target == q.state))
    if q.rejected:
        out.append(ledger.c.accepted == false())
    return out


def _ledger_json(columns: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(columns, values, strict=True))
    row["occurred_at"] = canonical_time(row["occurred_at"])
    row["accepted"] = bool(row["accepted"])
    if isinstance(row["guards"], str):
        row["guards"] = json.loads(row["guards"])
    return row


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc_text(v) if isinstance(v, datetime) else _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
