"""The SQL RunStore (SQLAlchemy Core). Each write method is one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from fsm.errors import ConcurrentModification, RunAlreadyActive, RunNotFound
from fsm.ports import RunFilter
from fsm.records import (
    Checkpoint,
    Definition,
    IntentUpdate,
    LedgerEntry,
    RunRecord,
    StoredIntent,
)
from persistence import mapping
from persistence.errors import translate_errors
from persistence.tables import checkpoints, definitions, ledger, order_intents, runs

_MOVE_COLUMNS = ("state", "status", "version", "head_hash", "updated_at", "result", "failure")
# Built once: the per-transition hot path reuses these (SQLAlchemy caches their compiled form).
_INSERT_LEDGER = insert(ledger)
_INSERT_CHECKPOINT = insert(checkpoints)
_MOVE_RUN = (
    update(runs)
    .where(runs.c.run_id == bindparam("b_run_id"), runs.c.version == bindparam("b_version"))
    .values({c: bindparam(c) for c in _MOVE_COLUMNS})
)


class SqlRunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_definition(self, definition: Definition) -> None:
        with translate_errors(), self.engine.begin() as conn:
            known = conn.execute(
                select(definitions.c.definition_hash).where(
                    definitions.c.definition_hash == definition.definition_hash
                )
            ).first()
            if known is None:
                conn.execute(insert(definitions), [definition.model_dump(mode="json")])

    def create_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(runs), [mapping.run_row(run)])
                conn.execute(insert(ledger), [mapping.ledger_row(entry)])
        except IntegrityError as exc:
            raise self._create_conflict(run) from exc

    def _create_conflict(self, run: RunRecord) -> Exception:
        if run.idempotency_key and self.find_by_idempotency_key(run.idempotency_key):
            return RunAlreadyActive(
                f"idempotency key {run.idempotency_key!r} is already used", run_id=run.run_id
            )
        active = self.list_runs(RunFilter(account_id=run.account_id, status="active", limit=1))
        if active:
            return RunAlreadyActive(
                f"account {run.account_id!r} already has an active run {active[0].run_id}; "
                f"wait for it to end",
                run_id=active[0].run_id,
            )
        return ConcurrentModification(f"run {run.run_id} already exists", run_id=run.run_id)

    def commit_transition(
        self, run: RunRecord, entry: LedgerEntry, checkpoint: Checkpoint | None
    ) -> None:
        move = mapping.run_move(run) | {"b_run_id": run.run_id, "b_version": run.version - 1}
        with translate_errors(run.run_id), self.engine.begin() as conn:
            moved = conn.execute(_MOVE_RUN, move)
            if moved.rowcount != 1:
                raise ConcurrentModification(
                    f"run {run.run_id} is no longer at version {run.version - 1}: another "
                    "process moved it; nothing was written",
                    run_id=run.run_id,
                    state=run.state,
                )
            conn.execute(_INSERT_LEDGER, mapping.ledger_row(entry))
            if checkpoint is not None:
                conn.execute(_INSERT_CHECKPOINT, mapping.checkpoint_row(checkpoint))

    def save_intents(self, intents: Sequence[StoredIntent]) -> None:
        if not intents:
            return
        rows = [mapping.intent_row(i, n) for n, i in enumerate(intents)]
        with translate_errors(intents[0].run_id), self.engine.begin() as conn:
            conn.execute(insert(order_intents), rows)

    def update_intent(self, update_: IntentUpdate) -> None:
        values = update_.model_dump(exclude={"run_id", "client_order_id"}, exclude_none=True)
        with translate_errors(update_.run_id), self.engine.begin() as conn:
            done = conn.execute(
                update(order_intents)
                .where(
                    order_intents.c.client_order_id == update_.client_order_id,
                    order_intents.c.run_id == update_.run_id,
                )
                .values(values)
            )
            if done.rowcount != 1:
                raise RunNotFound(f"no intent {update_.client_order_id}", run_id=update_.run_id)

    def get_run(self, run_id: str) -> RunRecord:
        found = self._runs(select(runs).where(runs.c.run_id == run_id))
        if not found:
            raise RunNotFound(
                f"no run {run_id!r}: `tradefsm runs list` shows the known runs", run_id=run_id
            )
        return found[0]

    def find_by_idempotency_key(self, key: str) -> RunRecord | None:
        found = self._runs(select(runs).where(runs.c.idempotency_key == key))
        return found[0] if found else None

    def list_runs(self, query: RunFilter) -> list[RunRecord]:
        stmt = select(runs)
        for column, value in (
            (runs.c.account_id, query.account_id),
            (runs.c.state, query.state),
            (runs.c.status, query.status),
            (runs.c.mode, query.mode),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.since is not None:
            stmt = stmt.where(runs.c.created_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(runs.c.created_at < query.until)
        stmt = stmt.order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).limit(query.limit)
        return self._runs(stmt)

    def _runs(self, stmt: Select[tuple[object, ...]]) -> list[RunRecord]:
        with translate_errors(), self.engine.connect() as conn:
            return [mapping.run_record(r) for r in conn.execute(stmt).mappings()]

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        stmt = select(ledger).where(ledger.c.run_id == run_id).order_by(ledger.c.seq)
        with translate_errors(run_id), self.engine.connect() as conn:
            return [mapping.ledger_entry(r) for r in conn.execute(stmt).mappings()]

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        stmt = select(checkpoints).where(checkpoints.c.run_id == run_id).order_by(checkpoints.c.seq)
        with translate_errors(run_id), self.engine.connect() as conn:
            return [mapping.checkpoint_record(r) for r in conn.execute(stmt).mappings()]

    def intents(self, run_id: str) -> list[StoredIntent]:
        stmt = (
            select(order_intents)
            .where(order_intents.c.run_id == run_id)
            .order_by(order_intents.c.position)
        )
        with translate_errors(run_id), self.engine.connect() as conn:
            return [mapping.intent_record(r) for r in conn.execute(stmt).mappings()]
