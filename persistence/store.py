"""The SQL RunStore (SQLAlchemy Core). Each write method is one transaction."""

from __future__ import annotations

from sqlalchemy import (
    Dialect,
    Engine,
    Select,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)

from fsm.dailytotals import DailyCheck
from fsm.errors import (
    ConcurrentModification,
    RunAlreadyActive,
    RunNotFound,
)
from fsm.kinds import RunStatus
from fsm.ports import DefinitionSource, RunFilter
from fsm.records import (
    Checkpoint,
    Definition,
    EncodedDocuments,
    Fence,
    LedgerEntry,
    RunRecord,
    StepAttempt,
)
from persistence import mapping
from persistence.cancels import CancelRequests
from persistence.daily import DailyStatement, DailyTotals
from persistence.dialects import starts_with, upsert
from persistence.errors import translate_errors
from persistence.groupcommit import GroupCommit
from persistence.halts import HaltsHistory
from persistence.hotpath import (
    DriverStatement,
    DriverTransaction,
    HeldConnections,
    driver_transaction,
)
from persistence.intentstore import IntentStore, found
from persistence.intentwrites import FENCED, IntentWrites, fenced
from persistence.leases import Leases
from persistence.pinned import PinnedDefinitions
from persistence.policybook import SqlPolicyBook
from persistence.ridethrough import RideThrough
from persistence.runfilter import run_conditions
from persistence.tables import (
    ENTRY_COLUMNS,
    checkpoints,
    definitions,
    insert_written,
    ledger,
    runs,
    step_attempts,
)

_MOVE_COLUMNS = (
    "state", "status", "version", "head_hash", "updated_at", "lease_expires_at", "deadline_at",
    "result", "failure",
)  # fmt: skip
CREATE_TRIES = 3  # inserts of a new run whose account's active run ended just as it clashed
# Built once: the per-transition hot path reuses these (SQLAlchemy caches their compiled form).
_INSERT_ATTEMPT = insert(step_attempts)
_MOVE_RUN = FENCED.values({c: bindparam(c) for c in _MOVE_COLUMNS})
# A transition that leaves the run unfinished leaves its status column alone: a leased run is
# active (or queued, while an operator cancels it), and not rewriting the column spares the
# status index a write on every transition.
_STEP_RUN = FENCED.where(
    runs.c.status.in_([literal_column("'active'"), literal_column("'queued'")])
).values({c: bindparam(c) for c in _MOVE_COLUMNS if c != "status"})


class _HotStatements:
    """The statements of the per-transition transaction, compiled once per dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.insert_run = DriverStatement(insert(runs), dialect)
        self.move_run = DriverStatement(_MOVE_RUN, dialect)
        self.step_run = DriverStatement(_STEP_RUN, dialect)
        self.insert_ledger = DriverStatement(insert_written(ledger), dialect)
        self.insert_checkpoint = DriverStatement(insert(checkpoints), dialect)
        self.insert_attempt = DriverStatement(insert(step_attempts), dialect)
        self.daily = DailyStatement(dialect)


class SqlRunStore(
    Leases,
    CancelRequests,
    HaltsHistory,
    SqlPolicyBook,
    DailyTotals,
    PinnedDefinitions,
    IntentStore,
):
    """The run store on SQLite or PostgreSQL.

    A driver's writes (transition commits, attempt records, order intents, lease renewals)
    and the reads of a step ride through transient database faults for
    ``ride.budget_seconds``, each resolved by reading whether a failed try had committed;
    past the budget, and for every other method, a fault raises ``DatabaseUnavailable``
    (transient) or ``StorageError`` at once.
    """

    def __init__(
        self, engine: Engine, ride: RideThrough | None = None, *, group_commit: bool = False
    ) -> None:
        self.engine = engine
        self.ride = ride or RideThrough()
        self._hot = _HotStatements(engine.dialect)
        self._intent_writes = IntentWrites(engine.dialect)
        # SQLite: a held connection per thread (a local file does not drop connections);
        # PostgreSQL: the pool, which pings a connection back from idle (persistence.liveness).
        self._held = HeldConnections(engine) if engine.dialect.name == "sqlite" else None
        self._known_definitions: set[str] = set()
        # Concurrent drivers in this process (a worker's threads) share commits when asked.
        self.group = GroupCommit(engine, self._held) if group_commit else None

    def share_commits(self) -> None:
        """From now on, transitions committed together by this process's threads share one
        commit (persistence.groupcommit); for a worker driving several runs at once."""
        if self.group is None:
            self.group = GroupCommit(self.engine, self._held)

    def close(self) -> None:
        """Close the connection this thread holds; the pool's close with ``engine.dispose()``."""
        if self._held is not None:
            self._held.discard()

    def ensure_definition(self, definition: DefinitionSource) -> None:
        key = definition.definition_hash
        if key in self._known_definitions:
            return  # stored already: definitions are never deleted
        stored = select(definitions.c.definition_hash).where(definitions.c.definition_hash == key)
        with translate_errors(), self.engine.connect() as conn:
            known = conn.execute(stored).first() is not None
        if not known:  # its record (the diagram rendered) only for a new one
            # Insert-or-ignore: processes starting together on a new database may race here.
            stmt = upsert(self.engine.dialect, definitions).on_conflict_do_nothing(
                index_elements=[definitions.c.definition_hash]
            )
            with translate_errors(), self.engine.begin() as conn:
                conn.execute(stmt, [definition.record().model_dump(mode="json")])
        self._known_definitions.add(key)

    def definition(self, definition_hash: str) -> Definition:
        stmt = select(definitions).where(definitions.c.definition_hash == definition_hash)
        with translate_errors(), self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            raise RunNotFound(f"no machine definition {definition_hash}")
        return Definition.model_validate(dict(row))

    def create_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        for _ in range(CREATE_TRIES):
            try:
                with driver_transaction(self.engine, run.run_id, self._held) as tx:
                    tx.execute(self._hot.insert_run, mapping.run_row(run))
                    tx.execute(self._hot.insert_ledger, mapping.ledger_row(entry))
                return
            except ConcurrentModification as exc:  # a unique key clashed: say which one
                conflict = self._create_conflict(run)
                if conflict is not None:
                    raise conflict from exc
        raise ConcurrentModification(
            f"account {run.account_id!r} kept getting a new active run; try again",
            run_id=run.run_id,
        )

    def _create_conflict(self, run: RunRecord) -> Exception | None:
        """The key ``run`` clashed with, or None when the clash is gone: the account's active
        run ended between the insert and this look (the insert may be tried again)."""
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
        if self._runs(select(runs).where(runs.c.run_id == run.run_id)):
            return ConcurrentModification(f"run {run.run_id} already exists", run_id=run.run_id)
        return None

    def commit_transition(
        self,
        run: RunRecord,
        entry: LedgerEntry,
        checkpoint: Checkpoint | None,
        attempt: StepAttempt | None = None,
        documents: EncodedDocuments | None = None,
        daily: DailyCheck | None = None,
        *,
        flush: bool = True,
    ) -> None:
        def commit() -> None:
            self._commit_transition(run, entry, checkpoint, attempt, documents, daily, flush)

        self.ride.write("transition commit", commit, lambda: self._moved(run), run.run_id)

    def _moved(self, run: RunRecord) -> bool:
        """Whether ``run`` (the row a commit wrote) is stored; False while it is still due."""
        stored = self.get_run(run.run_id)
        if (stored.version, stored.head_hash) == (run.version, run.head_hash):
            return True
        if (stored.version, stored.lease_owner) == (run.version - 1, run.lease_owner):
            return False
        raise ConcurrentModification(
            f"run {run.run_id} moved on or changed hands while the database was away; "
            "nothing more was written", run_id=run.run_id, state=stored.state,
        )  # fmt: skip

    def _commit_transition(
        self,
        run: RunRecord,
        entry: LedgerEntry,
        checkpoint: Checkpoint | None,
        attempt: StepAttempt | None,
        documents: EncodedDocuments | None,
        daily: DailyCheck | None,
        flush: bool,
    ) -> None:
        move = mapping.run_move(run) | {
            "b_run_id": run.run_id,
            "b_version": run.version - 1,
            "b_owner": run.lease_owner,
        }
        hot = self._hot

        def write(tx: DriverTransaction) -> None:
            if daily is not None:
                hot.daily.check(tx, daily)
            moving = hot.step_run if run.status is RunStatus.ACTIVE else hot.move_run
            if tx.execute(moving, move) != 1:
                raise ConcurrentModification(
                    f"run {run.run_id} is no longer at version {run.version - 1} under this "
                    "process's lease: another process moved it; nothing was written",
                    run_id=run.run_id,
                    state=run.state,
                )
            tx.execute(hot.insert_ledger, mapping.ledger_row(entry, documents))
            if checkpoint is not None:
                row = mapping.checkpoint_row(checkpoint, entry.occurred_at, documents)
                tx.execute(hot.insert_checkpoint, row)
            if attempt is not None:
                tx.execute(hot.insert_attempt, mapping.fields_of(attempt))

        if self.group is not None:
            self.group.run(run.run_id, write, flush=flush)
            return
        with driver_transaction(self.engine, run.run_id, self._held, flush=flush) as tx:
            write(tx)

    def renew_lease(self, fence: Fence, *, for_order: bool = False) -> None:
        def renew() -> None:  # the same renewal twice is harmless: no settling read needed
            with driver_transaction(self.engine, fence.run_id, self._held) as tx:
                stopping = for_order and self._intent_writes.asked_to_stop(tx, fence.run_id)
                if not stopping:
                    self._intent_writes.renew(tx, fence)
            if stopping:  # rare: the reads that say why, then the renewal if it is gone
                with translate_errors(fence.run_id), self.engine.begin() as conn:
                    self._obey_cancel(conn, fence.run_id)
                    self._obey_halt(conn, fence.run_id)
                    fenced(conn, fence)

        self.ride.call("lease renewal", renew, fence.run_id)

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]:
        return run_ids_starting(self.engine, prefix, limit)

    def record_attempt(self, attempt: StepAttempt, fence: Fence) -> None:
        def record() -> None:
            with translate_errors(attempt.run_id), self.engine.begin() as conn:
                fenced(conn, fence)
                conn.execute(_INSERT_ATTEMPT, attempt.model_dump())

        done = (
            select(step_attempts.c.attempt)
            .where(step_attempts.c.run_id == attempt.run_id)
            .where(step_attempts.c.state == attempt.state)
            .where(step_attempts.c.attempt == attempt.attempt)
        )
        self.ride.write("attempt record", record, lambda: found(self.engine, done), attempt.run_id)

    def attempts(self, run_id: str) -> list[StepAttempt]:
        stmt = (
            select(step_attempts)
            .where(step_attempts.c.run_id == run_id)
            .order_by(step_attempts.c.started_at, step_attempts.c.state, step_attempts.c.attempt)
        )
        with translate_errors(run_id), self.engine.connect() as conn:
            return [StepAttempt.model_validate(dict(r)) for r in conn.execute(stmt).mappings()]

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
        stmt = select(runs).where(*run_conditions(query, self.engine.dialect))
        stmt = stmt.order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
        return self._runs(stmt.limit(query.limit).offset(query.offset))

    def count_runs(self, query: RunFilter) -> dict[str, int]:
        stmt = select(runs.c.status, func.count()).where(
            *run_conditions(query, self.engine.dialect)
        )
        with translate_errors(), self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(stmt.group_by(runs.c.status))}

    def _runs(self, stmt: Select[tuple[object, ...]]) -> list[RunRecord]:
        with translate_errors(), self.engine.connect() as conn:
            return [mapping.run_record(r) for r in conn.execute(stmt).mappings()]

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        stmt = select(*ENTRY_COLUMNS).where(ledger.c.run_id == run_id).order_by(ledger.c.seq)
        with translate_errors(run_id), self.engine.connect() as conn:
            return [mapping.ledger_entry(r) for r in conn.execute(stmt).mappings()]

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        stmt = select(checkpoints).where(checkpoints.c.run_id == run_id).order_by(checkpoints.c.seq)
        with translate_errors(run_id), self.engine.connect() as conn:
            return [mapping.checkpoint_record(r) for r in conn.execute(stmt).mappings()]


def run_ids_starting(engine: Engine, prefix: str, limit: int) -> list[str]:
    """Run ids beginning with ``prefix`` (``_`` and ``%`` match themselves), in order."""
    stmt = (
        select(runs.c.run_id)
        .where(starts_with(engine.dialect, runs.c.run_id, prefix))
        .order_by(runs.c.run_id)
        .limit(limit)
    )
    with translate_errors(), engine.connect() as conn:
        return list(conn.execute(stmt).scalars())
