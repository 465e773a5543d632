"""The approver key registry on SQL (``fsm.keyregistry``), and its part of `audit verify`:
the registry's chain, and every stored approval signature checked against it."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select

from fsm import keyregistry, signatures
from fsm.audit import Finding
from fsm.keyregistry import ApproverKey
from persistence.errors import translate_errors
from persistence.store import SqlRunStore
from persistence.tables import approver_keys, ledger

_DECISION_EVENTS = tuple(signatures.DECISIONS)


class SqlApproverKeys:
    """``fsm.keyregistry.ApproverKeys`` on the run database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, actor: str, public_key: Ed25519PublicKey, added_by: str,
            now: datetime) -> ApproverKey:  # fmt: skip
        with translate_errors(), self.engine.begin() as conn:
            row = keyregistry.next_row(_keys(conn), actor, public_key, added_by, now)
            conn.execute(insert(approver_keys), [row.__dict__])
        return row

    def registered(self) -> list[ApproverKey]:
        with translate_errors(), self.engine.connect() as conn:
            return _keys(conn)


def _keys(conn: Connection) -> list[ApproverKey]:
    rows = conn.execute(select(approver_keys).order_by(approver_keys.c.seq)).mappings()
    return [ApproverKey(**row) for row in rows]


def findings(engine: Engine, run_id: str | None = None) -> list[Finding]:
    """The registry's chain, then every accepted approval or rejection (of ``run_id``, or of
    every run) whose stored signature does not verify against the registry."""
    keys = SqlApproverKeys(engine).registered()
    found = keyregistry.registry_findings(keys)
    stmt = (
        select(ledger.c.run_id)
        .distinct()
        .where(ledger.c.event.in_(_DECISION_EVENTS), ledger.c.accepted.is_(True))
    )
    if run_id is not None:
        stmt = stmt.where(ledger.c.run_id == run_id)
    with translate_errors(run_id), engine.connect() as conn:
        decided = sorted(conn.execute(stmt).scalars())
    store = SqlRunStore(engine)
    for decided_run in decided:
        try:
            rows = store.ledger(decided_run)
        except (ValidationError, ValueError):  # undecodable rows: the chain check names them
            continue
        found += signatures.findings(rows, keys)
    return found
