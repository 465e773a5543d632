"""The engine: one entry point per use — run, submit, claim, resume, retry, cancel, approve.

Each transition is one database transaction (ledger row + fenced run update + checkpoint);
``fsm.driver`` holds the loop and gets a ``Runtime``, never the engine. A run is driven only
under its lease: a second process cannot drive a run held by a live lease, and every write is
fenced by ``runs.version``. A run in a parking state (``awaiting_approval``) holds no lease and
is moved only by a person (approve, reject, cancel) or by its approval deadline.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from opentelemetry.trace import TracerProvider

from fsm.attempts import TimeoutRunner, in_thread
from fsm.cancels import refuse_resume
from fsm.clock import Clock
from fsm.decisions import cancel as cancel_run
from fsm.decisions import decide, quiet
from fsm.decisions import expire_approvals as expire_waiting
from fsm.driver import RunDriver
from fsm.errors import (
    RunAlreadyActive,
    RunNotResumable,
    TradeFsmError,
    TradingHalted,
)
from fsm.genesis import check_account, first_rows
from fsm.guardcontext import Guard
from fsm.guards import GUARDS
from fsm.halts import check as check_halts
from fsm.halts import throttle_limits
from fsm.ids import IdFactory
from fsm.interrupts import StopRequest
from fsm.keyregistry import ApproverKeys
from fsm.kinds import RunStatus
from fsm.leases import owner_id, owner_is_gone, said_unattended, unattended
from fsm.limits import PolicyCache, overrides_of
from fsm.machines.names import TradingEvent as E
from fsm.machines.specs import TRADING_SPECS
from fsm.pinning import is_stranded, movable
from fsm.ports import RunFilter, RunStore
from fsm.records import LedgerEntry, RunRecord
from fsm.redaction import redact
from fsm.requests import POLICY_PARAM, Ports, RunRequest, keyed_run, own_params
from fsm.resume import load_outputs, stale_reason
from fsm.runplugins import RunPlugins
from fsm.runtime import Observer, Runtime
from fsm.settings import Settings
from fsm.signatures import ApprovalSignature
from fsm.spec import SpecSet
from fsm.throttle import trip as trip_throttle
from fsm.tracing import Tracing, kept_trace

log = logging.getLogger("tradefsm.engine")


def _no_failpoint(_name: str) -> None:
    """Failpoints are off unless a composition root injects them (crash tests)."""


class Engine:
    """Starts and drives runs of one spec set (the trading machine unless given another).

    As a library it prints nothing and installs no signal handler or timer: step timeouts run
    in a helper thread unless the caller, owning its process, injects ``alarm_or_thread``.
    ``ports`` is what the spec set's steps talk to (``fsm.runtime``): None for a spec set whose
    steps call their own services (the legacy facade's); ``policies``, the policy cache its
    composition root already read from (default: one of its own).
    """

    def __init__(
        self,
        store: RunStore,
        ports: Ports | None,
        settings: Settings,
        clock: Clock,
        ids: IdFactory,
        *,
        observer: Observer | None = None,
        specs: SpecSet = TRADING_SPECS,
        guards: Mapping[str, Guard] = GUARDS,
        sleep: Callable[[float], None] = time.sleep,
        failpoint: Callable[[str], None] = _no_failpoint,
        timeouts: TimeoutRunner = in_thread,
        stop: StopRequest | None = None,
        approvers: ApproverKeys | None = None,
        tracer_provider: TracerProvider | None = None,
        policies: PolicyCache | None = None,
    ) -> None:
        self.store, self.settings, self.clock, self.ids = store, settings, clock, ids
        self.approvers = approvers  # the key registry signed approvals are checked against
        self.notifier, self.observer = (ports.notifier if ports else None), observer
        self.identity = dict(ports.identity) if ports else {}  # committed in each run's params
        self.plugins = RunPlugins(ports)  # ... and what drives a run that committed others
        self.specs, self.definition = specs, specs.definition
        self.owner = owner_id(ids.new_id("lease"))
        self._legs: dict[str, RunDriver] = {}  # a run advanced in legs: its driver between them
        self.runtime = Runtime(
            store=store, clock=clock, settings=settings, specs=specs, guards=guards,
            ports=ports, observe=self.observe, sleep=sleep, failpoint=failpoint,
            timeouts=timeouts, policies=policies or PolicyCache(store, overrides_of(settings)),
            secrets=settings.secret_values,
            stop=stop or StopRequest(), process=self.owner,
            tracing=Tracing.of(tracer_provider),
        )  # fmt: skip
        store.ensure_definition(self.definition)

    # ---- starting runs -------------------------------------------------------------------

    def run(self, request: RunRequest) -> RunRecord:
        """Start a run and drive it until it ends (``done``/``failed``) or parks for a person.

        With an idempotency key already used, the existing run is returned instead.
        """
        existing = self._existing(request, in_progress_ok=False)
        if existing is not None:
            return existing
        with self.runtime.tracing.starting("tradefsm.run", request.traceparent):
            return self._drive(RunDriver(self.runtime, self.create(request)))

    def submit(self, request: RunRequest) -> RunRecord:
        """Queue a run for a worker (`tradefsm worker`); an idempotency key is honoured."""
        existing = self._existing(request, in_progress_ok=True)
        if existing is not None:
            return existing
        with self.runtime.tracing.starting("tradefsm.submit", request.traceparent):
            return self.create(request, queued=True)

    def _existing(self, request: RunRequest, *, in_progress_ok: bool) -> RunRecord | None:
        """The run the request's idempotency key names (``keyed_run``); one still in progress
        is said to be so rather than reported as an ending."""
        found = self.store.find_by_idempotency_key
        run = keyed_run(found, request, lambda: self.clock.now().date(), self.identity)
        if run is None:
            return None
        if not in_progress_ok and run.state not in self.definition.final_states:
            busy = RunAlreadyActive(
                f"run {run.run_id} with idempotency key {request.idempotency_key!r} is in "
                f"progress ({run.state}); `tradefsm runs show {run.run_id}` shows where it is",
                run_id=run.run_id, state=run.state,
            )  # fmt: skip
            raise self._unattended(busy, self.clock.now())
        return run

    def create(self, request: RunRequest, *, queued: bool = False,
               plugins: Mapping[str, Any] | None = None) -> RunRecord:  # fmt: skip
        """Record a new run and its first ledger row (``None → idle``), leased unless queued;
        its params commit ``plugins`` (default: the engine's own, ``Ports.identity``).

        While its account is halted: TradingHalted, after the run was recorded and failed at
        once for the halt (a ledgered refusal; ``fsm.halts``)."""
        try:
            check_halts(self.store, request.account_id, "starting a run")
        except TradingHalted as exc:
            RunDriver(self.runtime, self._record(request)).refuse(exc)
            raise
        return self._record(request, queued=queued, plugins=plugins)

    def _record(self, request: RunRequest, *, queued: bool = False,
                plugins: Mapping[str, Any] | None = None) -> RunRecord:  # fmt: skip
        check_account(request.account_id)
        pinned = self._pin(request, plugins) | kept_trace(request.traceparent)
        now = self.clock.now()
        run, entry = first_rows(request, pinned, specs=self.specs, settings=self.settings,
                                ids=self.ids, now=now, owner=self.owner, queued=queued)  # fmt: skip
        try:
            self.store.create_run(run, entry)
        except RunAlreadyActive as exc:
            raise self._unattended(exc, now) from exc
        self.runtime.failpoint("transition.created")
        self.observe(run, entry)
        return run

    def _pin(self, request: RunRequest, plugins: Mapping[str, Any] | None) -> dict[str, Any]:
        """The policy version a new run pins; a setting looser than that policy in live mode,
        or naming another exchange in any mode, is refused here, before the run exists
        (InvalidConfiguration)."""
        pin = self.runtime.policies.pin()
        self.runtime.policies.limits(request.account_id, pin[POLICY_PARAM], request.mode)
        return pin | dict(self.identity if plugins is None else plugins)  # and its plugins

    # ---- continuing runs -----------------------------------------------------------------

    def claim(self) -> RunRecord | None:
        """Take the next queued (or abandoned) run and drive it; None when there is none."""
        self.expire_approvals()
        now = self.clock.now()
        run = self.store.claim_next(
            self.owner,
            now + timedelta(seconds=self.settings.lease_seconds),
            now,
            now + timedelta(seconds=self.settings.run_deadline_seconds),
            skip_states=tuple(self.specs.parked_states),
            definition_hash=self.definition.definition_hash,  # a stranded run is left alone
            accept=self.plugins.accepts,
        )
        return None if run is None else self._drive(self._driver(run, now, plugged=True))

    def resume(self, run_id: str) -> RunRecord:
        """Continue an interrupted run from its stored state, under a fresh lease."""
        run = movable(self.store.get_run(run_id), self.specs, "resume")
        if run.state in self.specs.parked_states:
            raise RunNotResumable(
                f"run {run_id} waits for approval: `tradefsm approve {run_id} --actor NAME "
                "--reason TEXT` (or `reject`)",
                run_id=run_id, state=run.state,
            )  # fmt: skip
        refuse_resume(self.store, run)
        self.plugins.ports_of(run)  # PluginMismatch before anything moves
        check_halts(self.store, run.account_id, f"resuming run {run_id}", run_id=run_id,
                    state=run.state)  # fmt: skip
        now = self.clock.now()
        log.info("resume", extra={"run_id": run_id, "state": run.state})
        driver = self._driver(self._lease(run, now), now, plugged=True)
        spec = self.specs.get(driver.run.state)
        if spec is not None and spec.on_resume == "refuse":
            driver.stop_trading(RunNotResumable(
                f"run {run_id} cannot continue in {driver.run.state}: {spec.note}",
                run_id=run_id, state=driver.run.state), now)  # fmt: skip
        return self._drive(driver)

    def resumable(self) -> list[RunRecord]:
        """Active runs nobody drives (lease expired, or its process on this host is gone);
        runs parked for a person are not among them."""
        now = self.clock.now()
        return [r for r in self._drivable() if unattended(r, now)]

    def _unattended(self, exc: RunAlreadyActive, now: datetime) -> RunAlreadyActive:
        return said_unattended(self.store, exc, now, self.specs.parked_states)

    def held(self) -> list[RunRecord]:
        """Active runs under this engine's own lease: what it was driving when its writes
        gave up on an unavailable database (a worker resumes them once it is back)."""
        return [r for r in self._drivable() if r.lease_owner == self.owner]

    def _drivable(self) -> list[RunRecord]:
        active = self.store.list_runs(RunFilter(status="active", limit=10_000))
        return [r for r in active if r.state not in self.specs.parked_states
                and not is_stranded(r, self.definition)]  # fmt: skip

    def stranded(self) -> list[RunRecord]:
        """Unfinished runs pinned to another machine definition than this engine's: nothing
        drives them until `tradefsm runs migrate` (``fsm.pinning``)."""
        query = RunFilter(stranded_from=self.definition.definition_hash, limit=10_000)
        return self.store.list_runs(query)

    def release_held(self) -> None:
        """Let other workers take this engine's runs now instead of when their leases end."""
        self.store.release_leases(self.owner, self.clock.now())

    def retry(self, run_id: str) -> RunRecord:
        """Start a new run linked to a failed one, from fresh data."""
        failed = self.store.get_run(run_id)
        if failed.status is not RunStatus.FAILED:
            hint = f"; `tradefsm resume {run_id}` continues it"
            raise RunNotResumable(
                f"run {run_id} is {failed.state}, not failed: only a failed run is retried"
                + (hint if failed.status.value == "active" else ""),
                run_id=run_id, state=failed.state,
            )  # fmt: skip
        request = RunRequest(
            account_id=failed.account_id, mode=failed.mode, correlation_id=failed.correlation_id,
            parent_run_id=failed.run_id,
            params=own_params(failed),
        )  # fmt: skip
        runtime = self.plugins.runtime_for(self.runtime, failed)  # or PluginMismatch
        if runtime is self.runtime:
            return self.run(request)
        identity = self.plugins.committed(failed)  # what the rebuilt plugins are
        return self._drive(RunDriver(runtime, self.create(request, plugins=identity)))

    def advance(self, run: RunRecord, until: str) -> RunRecord:
        """Drive ``run``, which this engine holds (``create``), until it is in state ``until``,
        ends or parks: for a caller that answers between states (the legacy facade)."""
        kept = self._legs.pop(run.run_id, None)  # unchanged since the last leg: no reload
        driver = kept if kept and kept.run == run else self._driver(run, self.clock.now(),
                                                                  stale_check=False)  # fmt: skip
        stops = {until} | self.definition.final_states | self.specs.parked_states
        while driver.run.state not in stops:
            with self.runtime.tracing.step(driver.run):
                driver.step()
        if driver.run.state == until:
            self._legs[run.run_id] = driver
        return driver.run

    def interrupt(
        self, run_id: str, error: Callable[[RunRecord], TradeFsmError]
    ) -> RunRecord | None:
        """Fail an unfinished run this engine holds with ``error(run)`` (its orders stood down
        first), as a caller interrupted while driving it does; an ended run is returned as it
        is, and None says the engine does not hold the run."""
        self._legs.pop(run_id, None)
        run = self.store.get_run(run_id)
        if run.state in self.definition.final_states:
            return run
        if run.lease_owner != self.owner:
            return None
        driver = self._driver(run, self.clock.now(), stale_check=False)
        driver.stop_trading(error(run), self.clock.now())
        return driver.run

    # ---- a person's commands (fsm.decisions) ---------------------------------------------

    def cancel(
        self,
        run_id: str,
        *,
        actor: str,
        reason: str,
        wait_seconds: float | None = None,
        waiting: Callable[[str], None] = quiet,
    ) -> RunRecord:
        """Fail an unfinished run on an operator's word; the ledger keeps who and why.

        A live process still driving it is first asked to stand down by a recorded cancel
        request (``fsm.cancels``); the cancel waits (up to ``wait_seconds``, by default the
        lease) until that process let the run go, saying so once through ``waiting``.
        """
        return cancel_run(self, run_id, actor, reason, wait_seconds, waiting)

    def approve(self, run_id: str, *, actor: str, reason: str,
                signature: ApprovalSignature | None = None) -> RunRecord:  # fmt: skip
        """Four eyes: someone other than the requester lets a parked plan execute (signed
        with a key of ``approvers`` when given; fsm.signatures)."""
        return decide(self, run_id, E.APPROVED, actor, reason, signature)

    def reject(self, run_id: str, *, actor: str, reason: str,
               signature: ApprovalSignature | None = None) -> RunRecord:  # fmt: skip
        """A person refuses a parked plan: the run fails with who and why."""
        return decide(self, run_id, E.REJECTED, actor, reason, signature)

    def expire_approvals(self) -> list[RunRecord]:
        """Fail every parked run whose approval deadline passed (also while nothing ran)."""
        return expire_waiting(self)

    # ---- shared ----------------------------------------------------------------------------

    def _lease(self, run: RunRecord, now: datetime) -> RunRecord:
        # A parked run's lease was released when it parked, whatever the clocks say.
        released = run.state in self.specs.parked_states
        takeover = run.lease_owner if released or owner_is_gone(run.lease_owner) else None
        expires = now + timedelta(seconds=self.settings.lease_seconds)
        return self.store.acquire_lease(run.run_id, self.owner, expires, now, takeover)

    def _driver(
        self, run: RunRecord, now: datetime, *, stale_check: bool = True, plugged: bool = False
    ) -> RunDriver:
        """A driver of a run this engine leased, from its stored state and checkpoints; with
        ``plugged``, driven by the plugins the run committed (``fsm.runplugins``)."""
        attempts = Counter(a.state for a in self.store.attempts(run.run_id))
        outputs = load_outputs(self.store.checkpoints(run.run_id), self.specs)
        runtime = self.plugins.runtime_for(self.runtime, run) if plugged else self.runtime
        driver = RunDriver(runtime, run, outputs, attempts)
        limit = self.runtime.policies.of_run(run).values.stale_after_days
        reason = stale_reason(run, now, limit) if stale_check else None
        if reason and run.state not in self.specs.parked_states:
            driver.stale(reason)
        return driver

    def _drive(self, driver: RunDriver) -> RunRecord:
        with driver.rt.tracing.driving(driver.run):
            run = driver.drive()
        if run.state in self.definition.final_states:
            policies = self.runtime.policies
            policy = policies.limits(run.account_id, policies.current(), run.mode).values
            trip_throttle(self.store, run.account_id, throttle_limits(policy), self.owner,
                          self.clock.now())  # fmt: skip
            self._notify(run)
        return run

    def observe(self, run: RunRecord, entry: LedgerEntry) -> None:
        log.info(
            "transition",
            extra={
                "run_id": run.run_id, "correlation_id": entry.correlation_id,
                "causation_id": entry.causation_id, "state": run.state,
                "fsm_event": entry.event, "accepted": entry.accepted, "attempt": entry.attempt,
                "duration_ms": entry.duration_ms,
            },
        )  # fmt: skip
        self.runtime.tracing.transition(run, entry)
        if self.observer is not None:
            self.observer(run, entry)

    def _notify(self, run: RunRecord) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(run)
        except Exception as exc:  # a notification never fails a run; it is logged instead
            log.warning("notify_failed", extra={"run_id": run.run_id, "error": redact(repr(exc))})
