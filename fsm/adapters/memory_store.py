"""An in-memory RunStore; passes the same contract suite as the SQL store."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from fsm import halts
from fsm.commitments import intent_event_hash
from fsm.dailytotals import DailyCheck, DailyUsage, usage
from fsm.errors import (
    CancelRequested,
    ConcurrentModification,
    DailyTotalsMoved,
    RunAlreadyActive,
    RunLeased,
    RunNotFound,
    RunNotResumable,
)
from fsm.halts import Halt
from fsm.kinds import RunStatus
from fsm.ledger import GENESIS_HASH
from fsm.machines.names import TradingState as S
from fsm.policyhistory import MemoryPolicyBook
from fsm.ports import DefinitionSource, RunFilter, guard_mentions
from fsm.records import (
    CancelRequest,
    Checkpoint,
    Definition,
    EncodedDocuments,
    Fence,
    IntentEvent,
    IntentUpdate,
    LedgerEntry,
    RunRecord,
    StepAttempt,
    StoredIntent,
)


class MemoryRunStore(MemoryPolicyBook):
    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[str, RunRecord] = {}
        self._ledger: dict[str, list[LedgerEntry]] = {}
        self._checkpoints: dict[str, list[Checkpoint]] = {}
        self._intents: dict[str, dict[str, StoredIntent]] = {}
        self._definitions: dict[str, Definition] = {}
        self._attempts: dict[str, list[StepAttempt]] = {}
        self._events: dict[str, list[IntentEvent]] = {}  # intent → its history
        self._active: dict[str, str] = {}  # account → its latest run (active or not)
        self._cancels: dict[str, list[CancelRequest]] = {}
        self._halts: list[Halt] = []

    def ensure_definition(self, definition: DefinitionSource) -> None:
        if definition.definition_hash not in self._definitions:
            self._definitions[definition.definition_hash] = definition.record()

    def definition(self, definition_hash: str) -> Definition:
        try:
            return self._definitions[definition_hash]
        except KeyError:
            raise RunNotFound(f"no machine definition {definition_hash}") from None

    def definition_runs(self) -> dict[str, dict[str, int]]:
        counts = {name: Counter[str]() for name in self._definitions}
        for run in self._runs.values():
            counts.setdefault(run.definition_hash, Counter())[run.status.value] += 1
        return {name: dict(counted) for name, counted in counts.items()}

    def repin_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        stored = self.get_run(run.run_id)
        if stored.version != run.version - 1:
            raise ConcurrentModification(
                f"run {run.run_id} moved on while it was being migrated; nothing was written",
                run_id=run.run_id,
            )
        self._runs[run.run_id] = stored.model_copy(update={
            k: getattr(run, k) for k in ("definition_hash", "version", "head_hash", "updated_at")
        })  # fmt: skip
        self._ledger.setdefault(run.run_id, []).append(entry)

    def create_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        if run.run_id in self._runs:
            raise ConcurrentModification(f"run {run.run_id} already exists", run_id=run.run_id)
        if run.idempotency_key and self.find_by_idempotency_key(run.idempotency_key):
            raise RunAlreadyActive(
                f"idempotency key {run.idempotency_key!r} is already used", run_id=run.run_id
            )
        active = self._active.get(run.account_id)
        if run.status is RunStatus.ACTIVE:
            if active is not None and self._runs[active].status is RunStatus.ACTIVE:
                raise RunAlreadyActive(
                    f"account {run.account_id!r} already has an active run {active}",
                    run_id=active,
                )
            self._active[run.account_id] = run.run_id
        self._runs[run.run_id] = run
        self._ledger[run.run_id] = [entry]
        self._checkpoints[run.run_id] = []
        self._intents[run.run_id] = {}

    def commit_transition(
        self,
        run: RunRecord,
        entry: LedgerEntry,
        checkpoint: Checkpoint | None,
        attempt: StepAttempt | None = None,
        documents: EncodedDocuments | None = None,
        daily: DailyCheck | None = None,
        *,
        flush: bool = True,  # nothing reaches a disk: a power loss loses every run anyway
    ) -> None:
        stored = self.get_run(run.run_id)
        if (
            stored.version != run.version - 1
            or entry.seq != run.version
            or stored.lease_owner != run.lease_owner
            or self._asked_to_stop(run.run_id, run.lease_owner)
        ):
            raise ConcurrentModification(
                f"run {run.run_id} is at version {stored.version} held by {stored.lease_owner}, "
                f"not {run.version - 1} held by {run.lease_owner}",
                run_id=run.run_id,
                state=stored.state,
            )
        if daily is not None and self.daily_usage(daily) != daily.expected:
            raise DailyTotalsMoved(f"account {daily.account_id}: the day's totals moved")
        if attempt is not None:
            self._add_attempt(attempt)
        self._runs[run.run_id] = run
        self._ledger[run.run_id].append(entry)
        if checkpoint is not None:
            self._checkpoints[run.run_id].append(checkpoint)

    def daily_usage(self, check: DailyCheck) -> DailyUsage:
        entered = {
            e.run_id for run_id, rows in self._ledger.items()
            if self._runs[run_id].account_id == check.account_id for e in rows
            if check.sent.sends(e.event, e.target) and check.start <= e.occurred_at < check.end
        }  # fmt: skip
        return usage(c.output for r in sorted(entered) for c in self._checkpoints[r]
                     if c.state == check.sent.plan_state)  # fmt: skip

    def acquire_lease(
        self,
        run_id: str,
        owner: str,
        expires_at: datetime,
        now: datetime,
        takeover_from: str | None,
    ) -> RunRecord:
        run = self.get_run(run_id)
        if run.status not in (RunStatus.ACTIVE, RunStatus.QUEUED):
            raise RunNotResumable(f"run {run_id} already ended {run.state}", run_id=run_id)
        free = (
            run.lease_owner in (None, owner, takeover_from)
            or run.lease_expires_at is None
            or run.lease_expires_at <= now
        )
        if not free:
            raise RunLeased(
                f"run {run_id} is held by {run.lease_owner} until {run.lease_expires_at}",
                run_id=run_id,
            )
        leased = run.model_copy(update={"lease_owner": owner, "lease_expires_at": expires_at})
        self._runs[run_id] = leased
        return leased

    def claim_next(
        self,
        owner: str,
        expires_at: datetime,
        now: datetime,
        deadline_at: datetime,
        skip_states: tuple[str, ...] = (),
        accept: Callable[[RunRecord], bool] | None = None,
        definition_hash: str | None = None,
    ) -> RunRecord | None:
        busy = {r.account_id for r in self._runs.values() if r.status is RunStatus.ACTIVE}
        for run in sorted(self._runs.values(), key=lambda r: (r.created_at, r.run_id)):
            unleased = run.lease_expires_at is None or run.lease_expires_at <= now
            queued = run.status is RunStatus.QUEUED and unleased and run.account_id not in busy
            expired = run.status is RunStatus.ACTIVE and (
                run.lease_expires_at is None or run.lease_expires_at <= now
            )
            asked = run.run_id in self._cancels  # a run with a cancel request waits for `cancel`
            halted = bool(halts.in_force(self._halts, run.account_id))  # waits for `unhalt`
            stranded = definition_hash not in (None, run.definition_hash)  # left for `migrate`
            left = run.state in skip_states or asked or halted or stranded
            if (queued or expired) and not left and (accept is None or accept(run)):
                claimed = run.model_copy(update={
                    "status": RunStatus.ACTIVE, "lease_owner": owner,
                    "lease_expires_at": expires_at, "deadline_at": run.deadline_at or deadline_at,
                })  # fmt: skip
                self._runs[run.run_id] = claimed
                self._active[run.account_id] = run.run_id
                return claimed
        return None

    def _check_fence(self, fence: Fence) -> None:
        run = self.get_run(fence.run_id)
        if (
            run.version != fence.version
            or run.lease_owner != fence.lease_owner
            or self._asked_to_stop(fence.run_id, fence.lease_owner)
        ):
            raise ConcurrentModification(
                f"run {fence.run_id} moved on or changed hands", run_id=fence.run_id
            )
        self._runs[fence.run_id] = run.model_copy(
            update={"lease_expires_at": fence.lease_expires_at}
        )

    def renew_lease(self, fence: Fence, *, for_order: bool = False) -> None:
        if for_order and self._cancels.get(fence.run_id):
            raise CancelRequested(
                f"run {fence.run_id}: a cancel was requested; this process "
                "stood down before its next order",
                run_id=fence.run_id,
            )
        if for_order:
            halts.check(self, self.get_run(fence.run_id).account_id, "the next order",
                        run_id=fence.run_id, state=S.EXECUTING)  # fmt: skip
        self._check_fence(fence)

    def record_halt(self, halt: Halt) -> None:
        if halt.seq != len(self._halts) + 1:
            raise ConcurrentModification(f"halt {halt.seq}: another halt came first")
        self._halts.append(halt)

    def halts(self) -> list[Halt]:
        return list(self._halts)

    def request_cancel(self, request: CancelRequest) -> None:
        requests = self._cancels.setdefault(request.run_id, [])
        if request.n != len(requests) + 1:
            raise ConcurrentModification(
                f"run {request.run_id}: another cancel request came first", run_id=request.run_id
            )
        requests.append(request)

    def _asked_to_stop(self, run_id: str, owner: str | None) -> bool:
        """A run with cancel requests is written only by a process that asked to cancel it."""
        requests = self._cancels.get(run_id, [])
        return bool(requests) and all(r.process != owner for r in requests)

    def cancel_requests(self, run_id: str) -> list[CancelRequest]:
        return list(self._cancels.get(run_id, []))

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]:
        return sorted(r for r in self._runs if r.startswith(prefix))[:limit]

    def release_leases(self, owner: str, now: datetime) -> None:
        for run_id, run in list(self._runs.items()):
            if run.lease_owner == owner and run.status in (RunStatus.ACTIVE, RunStatus.QUEUED):
                self._runs[run_id] = run.model_copy(update={"lease_expires_at": now})

    def record_attempt(self, attempt: StepAttempt, fence: Fence) -> None:
        self._check_fence(fence)
        self._add_attempt(attempt)

    def _add_attempt(self, attempt: StepAttempt) -> None:
        known = self._attempts.setdefault(attempt.run_id, [])
        if any((a.state, a.attempt) == (attempt.state, attempt.attempt) for a in known):
            raise ConcurrentModification(
                f"attempt {attempt.attempt} of {attempt.state} already stored",
                run_id=attempt.run_id,
            )
        known.append(attempt)

    def attempts(self, run_id: str) -> list[StepAttempt]:
        return list(self._attempts.get(run_id, []))

    def save_intents(self, intents: Sequence[StoredIntent], fence: Fence) -> None:
        self._check_fence(fence)
        for intent in intents:
            self.get_run(intent.run_id)
            known = self._intents[intent.run_id]
            if intent.intent.client_order_id in known:
                raise ConcurrentModification(
                    f"intent {intent.intent.client_order_id} already stored", run_id=intent.run_id
                )
        for intent in intents:
            self._intents[intent.run_id][intent.intent.client_order_id] = intent
            self._chain(intent, intent.status, intent.updated_at)

    def update_intents(self, updates: Sequence[IntentUpdate], fence: Fence) -> None:
        self._check_fence(fence)
        for update in updates:  # all or none: every intent is known before any changes
            if update.client_order_id not in self._intents.get(update.run_id, {}):
                raise RunNotFound(f"no intent {update.client_order_id}", run_id=update.run_id)
        for update in updates:
            self._update_intent(update)

    def update_intent(self, update: IntentUpdate, fence: Fence) -> None:
        self._check_fence(fence)
        self._update_intent(update)

    def _update_intent(self, update: IntentUpdate) -> None:
        known = self._intents.get(update.run_id, {})
        stored = known.get(update.client_order_id)
        if stored is None:
            raise RunNotFound(f"no intent {update.client_order_id}", run_id=update.run_id)
        changes = update.model_dump(exclude={"run_id", "client_order_id"}, exclude_none=True)
        known[update.client_order_id] = stored.model_copy(update=changes)
        self._chain(stored, update.status, update.updated_at, update)

    def _chain(
        self, stored: StoredIntent, status: str, at: datetime, update: IntentUpdate | None = None
    ) -> None:
        """Chain an event onto the intent's history, as the SQL store does."""
        coid = stored.intent.client_order_id
        history = self._events.setdefault(coid, [])
        prev = history[-1].hash if history else GENESIS_HASH
        assert prev is not None, "the memory store writes no legacy events"
        position = list(self._intents[stored.run_id]).index(coid)
        intent = stored.intent.model_dump() | {"run_id": stored.run_id, "position": position}
        said = update.model_dump() if update else {}
        event = {"n": len(history) + 1, "status": status, "recorded_at": at} | {
            k: said.get(k) for k in ("broker_order_id", "filled_qty", "avg_price")
        }
        history.append(IntentEvent(
            client_order_id=coid, run_id=stored.run_id, prev_hash=prev,
            hash=intent_event_hash(prev, intent, event), **event,
        ))  # fmt: skip

    def intent_heads(self, run_id: str) -> list[tuple[str, int, str]]:
        return [(coid, self._events[coid][-1].n, self._events[coid][-1].hash or "")
                for coid in self._intents.get(run_id, {})]  # fmt: skip

    def intent_events(self, run_id: str) -> list[IntentEvent]:
        return [e for coid in sorted(self._intents.get(run_id, {})) for e in self._events[coid]]

    def get_run(self, run_id: str) -> RunRecord:
        try:
            return self._runs[run_id]
        except KeyError:
            raise RunNotFound(f"no run {run_id!r}", run_id=run_id) from None

    def find_by_idempotency_key(self, key: str) -> RunRecord | None:
        return next((r for r in self._runs.values() if r.idempotency_key == key), None)

    def list_runs(self, query: RunFilter) -> list[RunRecord]:
        rows = [r for r in self._runs.values() if self._matches(r, query)]
        rows.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return rows[query.offset : query.offset + query.limit]

    def count_runs(self, query: RunFilter) -> dict[str, int]:
        runs = self._runs.values()
        return dict(Counter(r.status.value for r in runs if self._matches(r, query)))

    def _matches(self, run: RunRecord, q: RunFilter) -> bool:
        first = self._ledger.get(run.run_id, [])[:1]
        failure = run.failure or {}
        return (
            _matches(run, q)
            and (q.search is None or run.run_id.startswith(q.search)
                 or run.correlation_id == q.search)
            and (q.requested_by is None or [e.actor for e in first] == [q.requested_by])
            and ((q.failure_type is None and q.guard is None)
                 or run.status is RunStatus.FAILED)
            and (q.failure_type is None or failure.get("error_type") == q.failure_type)
            and (q.guard is None or any(m in str(failure.get("message", ""))
                                     for m in guard_mentions(q.guard)))
        )  # fmt: skip

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        return copy.copy(self._ledger.get(run_id, []))

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        return copy.copy(self._checkpoints.get(run_id, []))

    def intents(self, run_id: str) -> list[StoredIntent]:
        return list(self._intents.get(run_id, {}).values())


def _matches(run: RunRecord, q: RunFilter) -> bool:
    return (
        (q.account_id is None or run.account_id == q.account_id)
        and (q.state is None or run.state == q.state)
        and (q.status is None or run.status.value == q.status)
        and (q.mode is None or run.mode.value == q.mode)
        and (q.retry_of is None or run.parent_run_id == q.retry_of)
        and (q.since is None or run.created_at >= q.since)
        and (q.until is None or run.created_at < q.until)
        and (q.stranded_from is None or (run.status.value in ("active", "queued")
                                         and run.definition_hash != q.stranded_from))
    )  # fmt: skip
