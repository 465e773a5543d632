"""Retention in the SQL run database: legal holds, the plan of runs to archive, and the
archiving itself (``fsm.archive``, ``fsm.tombstones``, ``fsm.holds``).

A run is archived in two steps. Its evidence bundle is written to the archive folder, fsynced
and verified; then one transaction writes its tombstone and removes its rows (the append-only
triggers let a run's rows go once it has a tombstone). A process killed between the two leaves
the run whole with a bundle beside it: ``apply`` again finds that bundle, checks it proves the
same head, and completes the removal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from fsm import archive, holds, tombstones
from fsm.actors import actor_name
from fsm.errors import ConcurrentModification, InvalidConfiguration, InvalidInput
from fsm.failpoints import failpoint
from fsm.holds import Hold
from fsm.tombstones import FINAL_STATUSES
from persistence.bundle import export_bundle
from persistence.errors import translate_errors
from persistence.retentionlog import hold_rows, tombstone_rows
from persistence.seal import covered, last_document
from persistence.tables import (
    cancel_requests,
    checkpoints,
    intent_events,
    ledger,
    order_intents,
    runs,
    step_attempts,
)
from persistence.tables import holds as holds_table
from persistence.tables import tombstones as tombstones_table

# Children first: each table before the ones its rows refer to.
_RUN_TABLES = (intent_events, order_intents, cancel_requests, step_attempts, checkpoints, ledger,
               runs)  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A finished run older than the cut-off, and why it stays (None: it is archived)."""

    run_id: str
    account_id: str
    status: str
    updated_at: datetime
    held: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "account_id": self.account_id, "status": self.status,
                "ended_at": self.updated_at.isoformat(), "held": self.held}  # fmt: skip


@dataclass
class Applied:
    """What ``apply`` did: archived runs (run id → bundle hash) and runs left, with why."""

    archived: dict[str, str] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)


class SqlHolds:
    """The holds history in the run database (``fsm.holds.HoldHistory``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_hold(self, hold: Hold) -> None:
        with translate_errors(hold.run_id), self.engine.begin() as conn:
            try:
                conn.execute(insert(holds_table), [hold.model_dump()])
            except IntegrityError as exc:
                raise ConcurrentModification(f"hold {hold.seq} was recorded by another process "
                                             "at the same time; nothing was written: try "
                                             "again") from exc  # fmt: skip

    def holds(self) -> list[Hold]:
        with translate_errors(), self.engine.connect() as conn:
            return hold_rows(conn)


def plan(engine: Engine, before: datetime) -> list[Candidate]:
    """Finished runs that ended before ``before``, newest first, each with the hold that keeps
    it (None: ``apply`` archives it)."""
    stmt = (
        select(runs.c.run_id, runs.c.account_id, runs.c.status, runs.c.updated_at)
        .where(runs.c.status.in_(FINAL_STATUSES), runs.c.updated_at < before)
        .order_by(runs.c.updated_at.desc(), runs.c.run_id.desc())
    )
    with translate_errors(), engine.connect() as conn:
        held_runs, held_accounts = holds.in_force(hold_rows(conn))
        found = conn.execute(stmt).all()
    return [
        Candidate(run_id, account, status, at, _hold_of(run_id, account, held_runs, held_accounts))
        for run_id, account, status, at in found
    ]


def _hold_of(run_id: str, account: str, runs_held: set[str], accounts: set[str]) -> str | None:
    if run_id in runs_held:
        return "legal hold on the run"
    return "legal hold on its account" if account in accounts else None


def apply(engine: Engine, chosen: Sequence[Candidate], root: Path,
          keys: Sequence[Ed25519PublicKey], who: tuple[str, str, str], now: datetime,
          progress: Callable[[str, str], None]) -> Applied:  # fmt: skip
    """Archive each chosen run not held: bundle, verify, then tombstone and remove, one run at
    a time; ``who`` is (actor, reason, process); ``progress(run_id, bundle_hash)`` after each."""
    actor_name(who[0])  # a name that is not allowed is refused before anything is written
    if not who[1].strip():
        raise InvalidInput("retention apply needs --reason: the tombstone keeps why")
    done = Applied()
    heads = _sealed_heads(engine, [c.run_id for c in chosen if c.held is None])
    for candidate in chosen:
        run_id = candidate.run_id
        if candidate.held is not None:
            done.left[run_id] = candidate.held
            continue
        partial = archive.partial_folder(root, run_id)
        export_bundle(engine, run_id, partial)
        bundle_hash = archive.place(partial, root, run_id, heads[run_id], keys)
        failpoint("retention.bundled")
        why = _remove(engine, run_id, heads[run_id], bundle_hash, who, now)
        if why is None:
            done.archived[run_id] = bundle_hash
            progress(run_id, bundle_hash)
        else:
            done.left[run_id] = why
    return done


def _sealed_heads(engine: Engine, run_ids: list[str]) -> dict[str, tuple[int, str]]:
    """The signed heads of every run in ``run_ids``; InvalidConfiguration (nothing archived)
    when one has moved since the newest digest or was never sealed."""
    stmt = select(runs.c.run_id, runs.c.version, runs.c.head_hash).where(runs.c.run_id.in_(run_ids))
    with translate_errors(), engine.connect() as conn:
        last = last_document(conn)
        sealed = {} if last is None else covered(conn, last)[0]
        unsealed = [r for r, v, h in conn.execute(stmt) if sealed.get(r) != (v, h)]
    if unsealed:
        raise InvalidConfiguration(f"{len(unsealed)} run(s) changed since the newest digest or "
                                   f"were never sealed (first {sorted(unsealed)[0]}): `tradefsm "
                                   "audit seal` first; nothing was archived")  # fmt: skip
    return sealed


def _remove(engine: Engine, run_id: str, head: tuple[int, str], bundle_hash: str,
            who: tuple[str, str, str], now: datetime) -> str | None:  # fmt: skip
    """Tombstone and remove the run in one transaction; why not (None: removed)."""
    with translate_errors(run_id), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # no hold or tombstone slips in meanwhile
            conn.exec_driver_sql("LOCK TABLE holds, tombstones IN SHARE ROW EXCLUSIVE MODE")
        run = conn.execute(
            select(runs.c.account_id, runs.c.status, runs.c.version, runs.c.head_hash).where(
                runs.c.run_id == run_id
            )
        ).first()
        if run is None or run.status not in FINAL_STATUSES or (run.version, run.head_hash) != head:
            raise ConcurrentModification(f"run {run_id} changed while it was archived; nothing "
                                         "was removed: apply again", run_id=run_id)  # fmt: skip
        why = _hold_of(run_id, run.account_id, *holds.in_force(hold_rows(conn)))
        if why is not None:
            return why
        child = conn.execute(select(runs.c.run_id).where(runs.c.parent_run_id == run_id)).scalar()
        if child is not None:
            return f"run {child} retried it and stays"
        last = tombstone_rows(conn)[-1:]
        actor, reason, process = who
        row = tombstones.next_tombstone(last[0] if last else None, run_id, head, bundle_hash,
                                        actor, reason, process, now)  # fmt: skip
        conn.execute(insert(tombstones_table), [row.model_dump()])
        for table in _RUN_TABLES:
            conn.execute(delete(table).where(table.c.run_id == run_id))
    return None
