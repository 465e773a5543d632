"""A person's decisions on a run: cancel an unfinished run, approve or reject a plan parked
for approval; and a parked plan's expiry.

The Engine's part for people: a decision leases the run, records who decided, why (and for
an approval, with which signature, ``fsm.signatures``) and drives the run on; a cancel first
asks a live process still driving the run to stand down (``fsm.cancels``); a plan whose
approval deadline passed fails instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from fsm import halts
from fsm.actors import actor_name
from fsm.cancels import Asking, pending
from fsm.clock import Clock
from fsm.driver import RunDriver
from fsm.errors import ApprovalExpired, RunLeased, RunNotResumable
from fsm.keyregistry import ApproverKeys, keys_of
from fsm.kinds import RunStatus
from fsm.leases import unattended
from fsm.machines.names import TradingEvent as E
from fsm.pinning import movable
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord
from fsm.runplugins import RunPlugins
from fsm.runtime import Runtime
from fsm.settings import Settings
from fsm.signatures import ApprovalEvidence, ApprovalSignature, plan_hash
from fsm.spec import Decision, SpecSet


class Engine(Protocol):
    """The parts of ``fsm.engine.Engine`` a decision uses: its store, clock, settings, key
    registry, specs, lease owner and runtime, and the engine's own lease, driver and drive
    steps (so this module need not import the engine, which imports it)."""

    store: RunStore
    clock: Clock
    settings: Settings
    approvers: ApproverKeys | None
    specs: SpecSet
    plugins: RunPlugins
    owner: str
    runtime: Runtime

    def _lease(self, run: RunRecord, now: datetime) -> RunRecord: ...
    def _driver(
        self, run: RunRecord, now: datetime, *, stale_check: bool = True, plugged: bool = False
    ) -> RunDriver: ...
    def _drive(self, driver: RunDriver) -> RunRecord: ...


def quiet(_line: str) -> None:
    """A library says nothing; the CLI prints what a cancel waits for."""


def cancel(engine: Engine, run_id: str, actor: str, reason: str, wait_seconds: float | None,
           waiting: Callable[[str], None] = quiet) -> RunRecord:  # fmt: skip
    """Fail an unfinished run on ``actor``'s word for ``reason`` (``Engine.cancel``): a queued
    run under a lease of the engine's own; a run a live process drives once that process,
    asked by a recorded cancel request, let it go (waiting up to ``wait_seconds``)."""
    actor = actor_name(actor)
    run = movable(engine.store.get_run(run_id), engine.specs, "cancel", queued=True)
    now = engine.clock.now()
    if run.status is RunStatus.QUEUED:
        run = _hold_queued(engine, run, now)
    if run.status is RunStatus.QUEUED:  # held: no worker starts it while it is cancelled
        try:
            return _cancel(engine, run, actor, reason)
        finally:  # refused, it goes back to the queue at once
            engine.store.release_leases(engine.owner, engine.clock.now())
    live = run.lease_owner not in (None, engine.owner) and not unattended(run, now)
    live = live and run.state not in engine.specs.parked_states
    if live or pending(engine.store, run) is not None:  # only a requester writes it then
        wait = engine.settings.lease_seconds + 5 if wait_seconds is None else wait_seconds
        asking = Asking(engine.store, engine.clock, engine.owner, engine.settings.lease_seconds,
                        engine.runtime.sleep, waiting)  # fmt: skip
        run = movable(
            asking.ask(run, actor, reason, wait if live else None), engine.specs, "cancel"
        )
    # An operator overrides the lease: the cancel commits under the lease the run has.
    run = run.model_copy(update={"lease_owner": run.lease_owner or engine.owner})
    return _cancel(engine, run, actor, reason)


def decide(engine: Engine, run_id: str, event: str, actor: str, reason: str,
           signature: ApprovalSignature | None) -> RunRecord:  # fmt: skip
    """``event`` (approved or rejected) on a parked run, by ``actor`` for ``reason``: what it
    does is the parked state's ``Decision`` (``fsm.spec.Parking``)."""
    actor = actor_name(actor)  # before anything moves: a refused name changes nothing
    run = engine.store.get_run(run_id)
    decision = engine.specs.decision(run.state, event)
    if decision is not None and decision.halted is not None:  # parked until `unhalt`
        halts.check(engine.store, run.account_id, f"{decision.halted} run {run_id}",
                    run_id=run_id, state=run.state)  # fmt: skip
    driver = _parked_driver(engine, run, event, decision)
    if driver is None:  # its approval deadline had just passed: it expired instead
        return engine.store.get_run(run_id)
    assert decision is not None, "a parked driver has a decision"
    approvers = engine.approvers
    keys = keys_of(approvers.registered(), actor) if signature and approvers else ()
    evidence = ApprovalEvidence(run_id, decision.verb, plan_hash(engine.store.ledger(run_id)),
                                signature, keys, engine.clock.now())  # fmt: skip
    driver.command(event, actor, reason, failure_type=decision.failure_type, approval=evidence)
    return engine._drive(driver)


def expire_approvals(engine: Engine) -> list[RunRecord]:
    """Fail every parked run whose approval deadline passed (also while nothing ran)."""
    now = engine.clock.now()
    expired = []
    for state in sorted(engine.specs.parked_states):
        for run in engine.store.list_runs(RunFilter(state=state, status="active", limit=1000)):
            stranded = run.definition_hash != engine.specs.definition.definition_hash
            if run.deadline_at is not None and run.deadline_at <= now and not stranded:
                expired.append(_expire(engine, engine._lease(run, now), now))
    return expired


def doing(engine: Engine, run: RunRecord) -> str:
    """What a run is doing, as a message says it: "is executing", "already ended done"."""
    if run.state in engine.specs.definition.final_states:
        return f"already ended {run.state}"
    if run.status is RunStatus.QUEUED:
        return "is queued (no worker has started it)"
    return f"is {run.state}"


def _expire(engine: Engine, run: RunRecord, now: datetime) -> RunRecord:
    driver = engine._driver(run, now, stale_check=False)
    driver.stop_trading(
        ApprovalExpired(
            f"run {run.run_id} waited for approval past {run.deadline_at}",
            run_id=run.run_id, state=run.state,
        ), now,
    )  # fmt: skip
    return engine._drive(driver)


def _parked_driver(
    engine: Engine, run: RunRecord, event: str, decision: Decision | None
) -> RunDriver | None:
    """A driver of a parked run under the engine's lease; None if it just expired."""
    if run.status is not RunStatus.ACTIVE or decision is None:
        raise RunNotResumable(f"run {run.run_id} {doing(engine, run)}, not waiting for approval",
                              run_id=run.run_id, state=run.state)  # fmt: skip
    run = movable(run, engine.specs, decision.verb)
    engine.plugins.ports_of(run)  # PluginMismatch before anything moves
    now = engine.clock.now()
    run = engine._lease(run, now)
    if run.deadline_at is not None and run.deadline_at <= now:
        _expire(engine, run, now)
        return None
    return engine._driver(run, now, stale_check=False, plugged=True)


def _hold_queued(engine: Engine, run: RunRecord, now: datetime) -> RunRecord:
    """A lease on a queued run, which keeps workers off it; if a worker claimed it
    meanwhile, the run as it is now (active)."""
    try:
        return engine._lease(run, now)
    except RunLeased:
        return movable(engine.store.get_run(run.run_id), engine.specs, "cancel")


def _cancel(engine: Engine, run: RunRecord, actor: str, reason: str) -> RunRecord:
    driver = engine._driver(run, engine.clock.now(), stale_check=False)
    driver.command(E.CANCEL, actor, reason, failure_type="Cancelled")
    return driver.run
