"""The engine: start, drive, resume, retry and cancel runs.

Each transition is one database transaction (ledger row + fenced run update + checkpoint);
``fsm.driver`` holds the loop. A run is driven only under its lease: a second process cannot
drive a run held by a live lease, and every write is fenced by ``runs.version``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from fsm.clock import Clock
from fsm.commitments import identity_digest
from fsm.definition import MachineDefinition, trading_definition
from fsm.driver import RunDriver
from fsm.errors import RunNotResumable
from fsm.failpoints import failpoint
from fsm.guards import GUARDS, Guard
from fsm.ids import IdFactory
from fsm.leases import owner_id, owner_is_gone
from fsm.ledger import GENESIS_HASH, seal
from fsm.ports import Broker, MarketData, Notifier, RunFilter, RunStore, SignalSource
from fsm.records import LedgerEntry, Mode, RunRecord, RunStatus
from fsm.redaction import redact
from fsm.resume import load_outputs, stale_reason
from fsm.settings import Settings
from fsm.steps.runner import STEPS, Step, StepPorts

log = structlog.get_logger("tradefsm.engine")
Observer = Callable[[RunRecord, LedgerEntry], None]
CREATED_EVENT = "created"


@dataclass(frozen=True)
class RunRequest:
    account_id: str
    mode: Mode = Mode.PAPER
    as_of: date | None = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    parent_run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ports:
    signals: SignalSource
    market_data: MarketData
    broker: Broker
    notifier: Notifier | None = None
    # The broker of a given account; when set, each run talks to its own account's broker.
    broker_for: Callable[[str], Broker] | None = None


class Engine:
    def __init__(
        self,
        store: RunStore,
        ports: Ports,
        settings: Settings,
        clock: Clock,
        ids: IdFactory,
        *,
        observer: Observer | None = None,
        definition: MachineDefinition | None = None,
        sleep: Callable[[float], None] = time.sleep,
        steps: Mapping[str, Step] = STEPS,
        guards: Mapping[str, Guard] = GUARDS,
    ) -> None:
        self.store = store
        self.ports = ports
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.observer = observer
        self.sleep = sleep
        self.steps = steps  # the step of each state; the legacy facade brings its own
        self.guards = guards
        self.definition = definition or trading_definition()
        self.owner = owner_id(ids.new_id("lease"))
        key = settings.broker_api_key
        self.secrets: tuple[str, ...] = (key.get_secret_value(),) if key else ()
        self.step_ports = StepPorts(
            ports.signals, ports.market_data, ports.broker, store, clock, settings
        )
        store.ensure_definition(self.definition.record())

    def run(self, request: RunRequest) -> RunRecord:
        """Start a run and drive it to ``done`` or ``failed``.

        With an idempotency key already used, the existing run is returned instead.
        """
        if request.idempotency_key:
            existing = self.store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None:
                return existing
        return self.drive(self.create(request))

    def submit(self, request: RunRequest) -> RunRecord:
        """Queue a run for a worker (`tradefsm worker`); an idempotency key is honoured."""
        if request.idempotency_key:
            existing = self.store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None:
                return existing
        return self.create(request, queued=True)

    def claim_and_drive(self) -> RunRecord | None:
        """Take the next queued (or abandoned) run and drive it; None when there is none."""
        now = self.clock.now()
        run = self.store.claim_next(
            self.owner,
            now + timedelta(seconds=self.settings.lease_seconds),
            now,
            now + timedelta(seconds=self.settings.run_deadline_seconds),
        )
        return None if run is None else self._continue(run, now)

    def create(self, request: RunRequest, *, queued: bool = False) -> RunRecord:
        now = self.clock.now()
        run_id = self.ids.new_id("run")
        correlation_id = request.correlation_id or self.ids.new_id("corr")
        identity = RunRecord(
            run_id=run_id,
            correlation_id=correlation_id,
            idempotency_key=request.idempotency_key,
            account_id=request.account_id,
            mode=request.mode,
            as_of=request.as_of or now.date(),
            state=self.definition.initial,
            status=RunStatus.QUEUED if queued else RunStatus.ACTIVE,
            version=1,
            parent_run_id=request.parent_run_id,
            definition_hash=self.definition.definition_hash,
            params=request.params,
            head_hash=GENESIS_HASH,
            created_at=now,
            updated_at=now,
            # A queued run gets its lease and deadline from the worker that claims it.
            lease_owner=None if queued else self.owner,
            lease_expires_at=None
            if queued
            else now + timedelta(seconds=self.settings.lease_seconds),
            deadline_at=None
            if queued
            else now + timedelta(seconds=self.settings.run_deadline_seconds),
        )
        entry = seal(
            GENESIS_HASH,
            run_id=run_id,
            seq=1,
            event=CREATED_EVENT,
            source=None,
            target=self.definition.initial,
            accepted=True,
            actor=self.settings.actor,
            correlation_id=correlation_id,
            causation_id=f"command:{'retry' if request.parent_run_id else 'run'}",
            occurred_at=now,
            commits={"identity": identity_digest(identity.model_dump())},
        )
        run = identity.model_copy(update={"head_hash": entry.hash})
        self.store.create_run(run, entry)
        failpoint("transition.created")
        self.observe(run, entry)
        return run

    def resume(self, run_id: str) -> RunRecord:
        """Continue an interrupted run from its stored state, under a fresh lease."""
        run = self.store.get_run(run_id)
        if run.status is not RunStatus.ACTIVE:
            raise RunNotResumable(
                f"run {run_id} already ended {run.state}; there is nothing to resume",
                run_id=run_id,
                state=run.state,
            )
        now = self.clock.now()
        takeover = run.lease_owner if owner_is_gone(run.lease_owner) else None
        expires = now + timedelta(seconds=self.settings.lease_seconds)
        log.info("resume", run_id=run_id, state=run.state, taken_from=run.lease_owner)
        return self._continue(
            self.store.acquire_lease(run_id, self.owner, expires, now, takeover), now
        )

    def _continue(self, run: RunRecord, now: datetime) -> RunRecord:
        """Drive a run this engine just leased, from its stored state and checkpoints."""
        attempts = Counter(a.state for a in self.store.attempts(run.run_id))
        driver = RunDriver(self, run, load_outputs(self.store.checkpoints(run.run_id)), attempts)
        reason = stale_reason(run, now, self.settings)
        if reason:
            driver.stale(reason)
        return self._drive(driver)

    def resumable(self) -> list[RunRecord]:
        """Active runs nobody drives: lease expired, or its process on this host is gone."""
        now = self.clock.now()
        active = self.store.list_runs(RunFilter(status="active", limit=10_000))
        return [
            r
            for r in active
            if r.lease_expires_at is None
            or r.lease_expires_at <= now
            or owner_is_gone(r.lease_owner)
        ]

    def retry(self, run_id: str) -> RunRecord:
        """Start a new run linked to a failed one, from fresh data."""
        failed = self.store.get_run(run_id)
        if failed.status is not RunStatus.FAILED:
            raise RunNotResumable(
                f"run {run_id} is {failed.state}, not failed: only a failed run is retried"
                + (
                    f"; `tradefsm resume {run_id}` continues it"
                    if failed.status.value == "active"
                    else ""
                ),
                run_id=run_id,
                state=failed.state,
            )
        request = RunRequest(
            account_id=failed.account_id,
            mode=failed.mode,
            correlation_id=failed.correlation_id,
            parent_run_id=failed.run_id,
            params=failed.params,
        )
        return self.drive(self.create(request))

    def cancel(self, run_id: str, *, actor: str, reason: str) -> RunRecord:
        """Fail an unfinished run on an operator's word; the ledger keeps who and why."""
        run = self.store.get_run(run_id)
        if run.state in self.definition.final_states:
            raise RunNotResumable(
                f"run {run_id} already ended {run.state}; there is nothing to cancel",
                run_id=run_id,
                state=run.state,
            )
        # An operator overrides the lease; a process still driving the run is fenced out.
        run = run.model_copy(update={"lease_owner": run.lease_owner or self.owner})
        driver = RunDriver(self, run)
        driver.cancel(actor, reason)
        return driver.run

    def drive(self, run: RunRecord) -> RunRecord:
        """Drive a run this engine holds the lease of to ``done`` or ``failed``."""
        return self._drive(RunDriver(self, run))

    def _drive(self, driver: RunDriver) -> RunRecord:
        while driver.run.state not in self.definition.final_states:
            driver.step()
        self._notify(driver.run)
        return driver.run

    def observe(self, run: RunRecord, entry: LedgerEntry) -> None:
        log.info(
            "transition",
            run_id=run.run_id,
            correlation_id=entry.correlation_id,
            causation_id=entry.causation_id,
            state=run.state,
            fsm_event=entry.event,
            accepted=entry.accepted,
            attempt=entry.attempt,
            duration_ms=entry.duration_ms,
        )
        if self.observer is not None:
            self.observer(run, entry)

    def _notify(self, run: RunRecord) -> None:
        if self.ports.notifier is None:
            return
        try:
            self.ports.notifier.notify(run)
        except Exception as exc:  # a notification never fails a run; it is logged instead
            log.warning("notify_failed", run_id=run.run_id, error=redact(repr(exc)))
