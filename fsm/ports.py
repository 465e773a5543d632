"""Ports: the engine talks to the outside world only through these Protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from fsm.dailytotals import DailyCheck, DailyUsage
from fsm.halts import Halt
from fsm.kinds import Mode
from fsm.pluginrecords import (
    AccountSnapshot,
    OrderAck,
    OrderIntent,
    OrderStatus,
    PriceSnapshot,
    SignalSet,
)
from fsm.policyhistory import PolicyBook
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


@dataclass(frozen=True)
class RunContext:
    """What a step may know about the run it works for."""

    run_id: str
    account_id: str
    as_of: date
    mode: Mode
    parent_run_id: str | None = None  # the run this one retries, if any


@dataclass(frozen=True)
class RunFilter:
    account_id: str | None = None
    state: str | None = None
    status: str | None = None
    mode: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0  # rows skipped, for paging
    search: str | None = None  # a run id prefix, or a whole correlation id
    requested_by: str | None = None  # the actor of the run's first ledger row
    failure_type: str | None = None  # its failure's error_type (Cancelled, Reject, ...)
    guard: str | None = None  # the guard its GuardRejected failure names
    retry_of: str | None = None  # runs retrying this run (their parent_run_id)
    stranded_from: str | None = None  # unfinished runs pinned to another definition than this


def guard_mentions(guard: str) -> tuple[str, str]:
    """How a GuardRejected failure's message names its guard: ``guard NAME refused …`` or
    ``… refused by guard NAME: …`` (``fsm.driver``)."""
    return f"guard {guard} ", f"guard {guard}:"


class SignalSource(Protocol):
    """A strategy: one target weight per symbol for the run's market date.

    Raises TransientError (e.g. MarketDataUnavailable) for what a retry may fix; anything else
    fails the run.
    """

    def generate(self, ctx: RunContext) -> SignalSet: ...


class MarketData(Protocol):
    """Prices of ``symbols`` on or before ``as_of``; TransientError when the provider is down."""

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot: ...


class Broker(Protocol):
    """An account at a broker. Every adapter passes ``tests/contract/test_broker.py``.

    - ``submit`` places one market order named by the intent's ``client_order_id``; a second
      order with an id the broker already holds raises DuplicateClientOrderId and places
      nothing (exactly-once orders rely on this; the engine never *decides* to send twice).
    - ``orders`` looks orders up by ``client_order_id``: unknown ids are simply absent, ids
      are returned in submission order, and statuses are those of ``OrderStatus``.
    - ``cancel`` of an order that is already terminal returns its status (counts as done).
    - Failures a retry may fix (timeouts, rate limits, 5xx) raise TransientError, with
      ``retry_after`` when the broker says; refusals raise BrokerRejected (permanent).
    """

    def account(self) -> AccountSnapshot: ...

    def submit(self, intent: OrderIntent) -> OrderAck: ...

    def orders(self, client_order_ids: Sequence[str]) -> list[OrderStatus]: ...

    def cancel(self, client_order_id: str) -> OrderStatus: ...


class Notifier(Protocol):
    def notify(self, run: RunRecord) -> None:
        """Tell someone a run ended. A failure here is logged and never fails the run."""
        ...


class DefinitionSource(Protocol):
    """A machine definition by its hash, and its record, made only when it is stored (a
    compiled chart renders its diagram then)."""

    @property
    def definition_hash(self) -> str: ...

    def record(self) -> Definition: ...


class RunStore(PolicyBook, Protocol):
    """The persistence port. Each write method is one transaction; it holds the risk
    policy's history too (``fsm.policyhistory``)."""

    def ensure_definition(self, definition: DefinitionSource) -> None:
        """Store ``definition.record()`` unless a definition by its hash is stored already."""
        ...

    def definition(self, definition_hash: str) -> Definition:
        """The stored machine definition (RunNotFound if unknown)."""
        ...

    def definition_runs(self) -> dict[str, dict[str, int]]:
        """Every stored definition's hash → its runs counted by status (``{}``: none)."""
        ...

    def repin_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        """Commit a migration (``fsm.migration``): ``entry`` (seq ``run.version``) and the run
        row's new ``definition_hash``, version, head hash and time, in one transaction;
        ConcurrentModification, writing nothing, when the run is no longer at the version
        before."""
        ...

    def create_run(self, run: RunRecord, entry: LedgerEntry) -> None:
        """Insert the run with its first ledger row (``None → idle``).

        Raises RunAlreadyActive if the account has an active run or the idempotency key is used.
        """
        ...

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
        """Append ``entry`` and move the run to ``run`` (whose version is ``entry.seq``).

        Fenced: raises ConcurrentModification, changing nothing, when the stored run is not at
        ``run.version - 1`` or its lease is no longer ``run.lease_owner``'s. ``documents``, when
        given, are the canonical JSON of the entry's guards and commits and the checkpoint's
        output, which a store may write as they are. With ``daily``, the account's totals are
        counted again under a lock serialising its plan commits: DailyTotalsMoved, changing
        nothing, when they are not ``daily.expected``.

        ``flush``: the commit is on disk when this returns (a power loss cannot undo it); with
        False it may be undone by a power loss, never by a crash of the process, until the
        next flushed commit of the same database, which makes it durable too.
        """
        ...

    def daily_usage(self, check: DailyCheck) -> DailyUsage:
        """What ``check.account_id`` sent on ``check.day`` (``fsm.dailytotals``)."""
        ...

    def acquire_lease(
        self,
        run_id: str,
        owner: str,
        expires_at: datetime,
        now: datetime,
        takeover_from: str | None,
    ) -> RunRecord:
        """Take the run's lease if it is free, expired, ours, or held by ``takeover_from``.

        The run may be active or queued (a queued run under a live lease is left alone by
        ``claim_next``: an operator is cancelling it). Raises RunLeased when another owner
        holds a live lease, RunNotResumable when the run has ended.
        """
        ...

    def claim_next(
        self,
        owner: str,
        expires_at: datetime,
        now: datetime,
        deadline_at: datetime,
        skip_states: tuple[str, ...] = (),
        definition_hash: str | None = None,
        accept: Callable[[RunRecord], bool] | None = None,
    ) -> RunRecord | None:
        """Take the oldest queued run no one holds a live lease on, or an active run whose
        lease expired, for ``owner``.

        A queued run becomes active (its deadline starts now); a run whose account already has
        an active run is left queued; runs in ``skip_states`` (parked for a person) are left
        alone, and with ``definition_hash`` so is a run pinned to another definition (a
        stranded run, ``fsm.pinning``), and so are runs ``accept`` turns down as they are
        before the claim (committed to other plugins). Concurrent claimers never get the same
        run.
        """
        ...

    def renew_lease(self, fence: Fence, *, for_order: bool = False) -> None:
        """Extend the lease to ``fence.lease_expires_at``; ConcurrentModification, changing
        nothing, when the run moved on or another owner took it over. ``for_order`` (the
        check before an order): CancelRequested, renewing nothing, when the run has a cancel
        request; TradingHalted when a halt is in force for its account (``fsm.halts``).
        ``claim_next`` claims no run of a halted account."""
        ...

    def request_cancel(self, request: CancelRequest) -> None:
        """Append ``request`` to its run's cancel requests (ConcurrentModification when
        another request took its number first)."""
        ...

    def cancel_requests(self, run_id: str) -> list[CancelRequest]:
        """The run's cancel requests, by ``n``."""
        ...

    def record_halt(self, halt: Halt) -> None:
        """Append one row to the halts history (``fsm.halts``); ConcurrentModification when
        another row took its ``seq`` first."""
        ...

    def halts(self) -> list[Halt]:
        """The halts history, by ``seq``."""
        ...

    def count_runs(self, query: RunFilter) -> dict[str, int]:
        """How many runs match ``query`` (its limit and offset aside), by status."""
        ...

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` run ids beginning with ``prefix``, in order."""
        ...

    def release_leases(self, owner: str, now: datetime) -> None:
        """Expire now every lease ``owner`` holds on an active or queued run (a stopping
        worker's, an operator's cancel of a queued run)."""
        ...

    def save_intents(self, intents: Sequence[StoredIntent], fence: Fence) -> None: ...

    def update_intent(self, update: IntentUpdate, fence: Fence) -> None: ...

    def update_intents(self, updates: Sequence[IntentUpdate], fence: Fence) -> None:
        """Several ``update_intent`` under one fence, in one transaction: all or none."""
        ...

    def intent_heads(self, run_id: str) -> list[tuple[str, int, str]]:
        """Each intent's last history event ``(client_order_id, n, hash)``, in plan order."""
        ...

    def intent_events(self, run_id: str) -> list[IntentEvent]:
        """Every intent's history, by client_order_id then n."""
        ...

    def record_attempt(self, attempt: StepAttempt, fence: Fence) -> None: ...

    def attempts(self, run_id: str) -> list[StepAttempt]: ...

    def get_run(self, run_id: str) -> RunRecord: ...

    def find_by_idempotency_key(self, key: str) -> RunRecord | None: ...

    def list_runs(self, query: RunFilter) -> list[RunRecord]: ...

    def ledger(self, run_id: str) -> list[LedgerEntry]: ...

    def checkpoints(self, run_id: str) -> list[Checkpoint]: ...

    def intents(self, run_id: str) -> list[StoredIntent]: ...
