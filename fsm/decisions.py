"""A person's decision on a plan parked for approval (approve, reject) and a plan's expiry.

The Engine's part for parked runs: a decision leases the run, records who decided, why and
with which signature (``fsm.signatures``), and drives the run on; a plan whose approval
deadline passed fails instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fsm import halts
from fsm.actors import actor_name
from fsm.clock import Clock
from fsm.driver import RunDriver
from fsm.errors import ApprovalExpired, RunNotResumable
from fsm.keyregistry import ApproverKeys, keys_of
from fsm.kinds import RunStatus
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord
from fsm.runplugins import RunPlugins
from fsm.signatures import ApprovalEvidence, ApprovalSignature, plan_hash
from fsm.spec import Decision, SpecSet


class Engine(Protocol):
    """The parts of ``fsm.engine.Engine`` a decision uses: its store, clock, key registry and
    specs, and the engine's own lease, driver and drive steps (so this module need not import
    the engine, which imports it)."""

    store: RunStore
    clock: Clock
    approvers: ApproverKeys | None
    specs: SpecSet
    plugins: RunPlugins

    def _movable(self, run: RunRecord, doing: str) -> RunRecord: ...
    def _lease(self, run: RunRecord, now: datetime) -> RunRecord: ...
    def _driver(
        self, run: RunRecord, now: datetime, *, stale_check: bool = True, plugged: bool = False
    ) -> RunDriver: ...
    def _drive(self, driver: RunDriver) -> RunRecord: ...


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
    run = engine._movable(run, decision.verb)
    engine.plugins.ports_of(run)  # PluginMismatch before anything moves
    now = engine.clock.now()
    run = engine._lease(run, now)
    if run.deadline_at is not None and run.deadline_at <= now:
        _expire(engine, run, now)
        return None
    return engine._driver(run, now, stale_check=False, plugged=True)
