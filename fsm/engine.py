"""The engine: enter a state → run its step → validate → pick the event → guards → persist.

One database transaction per transition (ledger row + fenced run update + checkpoint). The
in-memory run only moves after the commit succeeded, so a failed commit leaves it where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import structlog
from pydantic import BaseModel

from fsm.clock import Clock
from fsm.definition import MachineDefinition, trading_definition
from fsm.errors import GuardRejected, RunNotResumable, TradeFsmError
from fsm.guards import GuardContext, evaluate
from fsm.ids import IdFactory
from fsm.ledger import GENESIS_HASH, seal
from fsm.ports import Broker, MarketData, Notifier, RunContext, RunStore, SignalSource
from fsm.records import Checkpoint, GuardDecision, LedgerEntry, Mode, RunRecord, RunStatus
from fsm.redaction import redact
from fsm.settings import Settings
from fsm.steps.runner import STEPS, StepPorts, StepResult

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
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ports:
    signals: SignalSource
    market_data: MarketData
    broker: Broker
    notifier: Notifier | None = None


class StepCrashed(TradeFsmError):
    """A step raised an error that is not one of tradefsm's own; the run failed with it."""


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
    ) -> None:
        self.store = store
        self.ports = ports
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.observer = observer
        self.definition = definition or trading_definition()
        self._step_ports = StepPorts(
            ports.signals, ports.market_data, ports.broker, store, clock, settings
        )
        store.ensure_definition(self.definition.record())

    def run(self, request: RunRequest) -> RunRecord:
        """Start a run and drive it to ``done`` or ``failed``."""
        if request.idempotency_key:
            existing = self.store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None:
                return existing
        return self.drive(self.create(request))

    def create(self, request: RunRequest) -> RunRecord:
        now = self.clock.now()
        run_id = self.ids.new_id("run")
        correlation_id = request.correlation_id or self.ids.new_id("corr")
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
            causation_id="command:run",
            occurred_at=now,
        )
        run = RunRecord(
            run_id=run_id,
            correlation_id=correlation_id,
            idempotency_key=request.idempotency_key,
            account_id=request.account_id,
            mode=request.mode,
            as_of=request.as_of or now.date(),
            state=self.definition.initial,
            status=RunStatus.ACTIVE,
            version=1,
            definition_hash=self.definition.definition_hash,
            params=request.params,
            head_hash=entry.hash,
            created_at=now,
            updated_at=now,
        )
        self.store.create_run(run, entry)
        self._observe(run, entry)
        return run

    def drive(self, run: RunRecord) -> RunRecord:
        driver = _RunDriver(self, run)
        while driver.run.state not in self.definition.final_states:
            driver.step()
        self._notify(driver.run)
        return driver.run

    def cancel(self, run_id: str, *, actor: str, reason: str) -> RunRecord:
        """Fail an unfinished run on an operator's word; the ledger keeps who and why."""
        run = self.store.get_run(run_id)
        if run.state in self.definition.final_states:
            raise RunNotResumable(
                f"run {run_id} already ended {run.state}; there is nothing to cancel",
                run_id=run_id,
                state=run.state,
            )
        driver = _RunDriver(self, run)
        driver.cancel(actor, reason)
        return driver.run

    def _observe(self, run: RunRecord, entry: LedgerEntry) -> None:
        log.info(
            "transition",
            run_id=run.run_id,
            correlation_id=entry.correlation_id,
            causation_id=entry.causation_id,
            state=run.state,
            fsm_event=entry.event,
            accepted=entry.accepted,
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


class _RunDriver:
    """Drives one run; holds the last committed run row and the step outputs seen so far."""

    def __init__(self, engine: Engine, run: RunRecord) -> None:
        self.engine = engine
        self.run = run
        self.outputs: dict[str, BaseModel] = {}
        self.ctx = RunContext(run.run_id, run.account_id, run.as_of, run.mode)

    def step(self) -> None:
        state = self.run.state
        clock = self.engine.clock
        started = clock.now()
        try:
            result = STEPS[state](self.ctx, self.engine._step_ports, self.outputs)
        except TradeFsmError as exc:
            self._fail(exc, started)
            return
        except Exception as exc:  # a port's own error: recorded, and the run fails with it
            self._fail(StepCrashed(f"{type(exc).__name__}: {exc}", state=state), started)
            return
        self._advance(result, started)

    def _advance(self, result: StepResult, started: Any) -> None:
        transition = self.engine.definition.transition(self.run.state, result.event)
        decisions = evaluate(transition.guards, self._guard_context(result.output))
        refused = next((d for d in decisions if not d.passed), None)
        if refused is not None:
            self._commit(result.event, None, decisions, started, output=result.output)
            rejected = GuardRejected(
                f"guard {refused.name} refused {result.event}: {refused.reason}",
                guard=refused.name,
                reason=refused.reason,
                run_id=self.run.run_id,
                state=self.run.state,
                event=result.event,
            )
            self._fail(rejected, self.engine.clock.now())
            return
        self._commit(result.event, transition.target, decisions, started, output=result.output)

    def cancel(self, actor: str, reason: str) -> None:
        transition = self.engine.definition.transition(self.run.state, "cancel")
        ctx = replace(self._guard_context(None), actor=actor, reason=reason)
        decisions = evaluate(transition.guards, ctx)
        started = self.engine.clock.now()
        if not all(d.passed for d in decisions):
            self._commit("cancel", None, decisions, started, actor=actor or "unknown")
            raise GuardRejected(
                "cancel needs an actor and a reason",
                guard="operator_named",
                reason=decisions[0].reason,
                run_id=self.run.run_id,
                state=self.run.state,
                event="cancel",
            )
        message = redact(reason, self._secrets())
        failure = {"error_type": "Cancelled", "stage": self.run.state, "message": message}
        self._commit(
            "cancel", transition.target, decisions, started,
            actor=actor, error=("Cancelled", message), failure=failure,
        )  # fmt: skip

    def _fail(self, error: TradeFsmError, started: Any) -> None:
        secrets = self._secrets()
        message = redact(error.message, secrets)
        failure = {"error_type": error.error_type, "stage": self.run.state, "message": message}
        self._commit(
            "fail", "failed", (), started, error=(error.error_type, message), failure=failure
        )

    def _guard_context(self, output: object) -> GuardContext:
        return GuardContext(
            settings=self.engine.settings,
            mode=self.run.mode,
            as_of=self.run.as_of,
            today=self.engine.clock.now().date(),
            output=output,
        )

    def _secrets(self) -> tuple[str, ...]:
        key = self.engine.settings.broker_api_key
        return (key.get_secret_value(),) if key else ()

    def _commit(
        self,
        event: str,
        target: str | None,
        decisions: tuple[GuardDecision, ...],
        started: Any,
        *,
        output: BaseModel | None = None,
        actor: str | None = None,
        error: tuple[str, str] | None = None,
        failure: dict[str, Any] | None = None,
    ) -> None:
        engine, run = self.engine, self.run
        now = engine.clock.now()
        seq = run.version + 1
        entry = seal(
            run.head_hash,
            run_id=run.run_id,
            seq=seq,
            event=event,
            source=run.state,
            target=target,
            accepted=target is not None,
            guards=decisions,
            actor=actor or engine.settings.actor,
            correlation_id=run.correlation_id,
            causation_id=f"{run.run_id}#{run.version}",
            occurred_at=now,
            duration_ms=max(0, int((now - started).total_seconds() * 1000)),
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
        )
        new_state = target or run.state
        moved = run.model_copy(
            update={
                "state": new_state,
                "status": _status(new_state),
                "version": seq,
                "head_hash": entry.hash,
                "updated_at": now,
                "failure": failure if failure is not None else run.failure,
                "result": _result(event, output) if new_state == "done" else run.result,
            }
        )
        checkpoint = None
        if output is not None and target is not None:
            checkpoint = Checkpoint(
                run_id=run.run_id,
                seq=seq,
                state=run.state,
                schema_version=int(getattr(output, "schema_version", 1)),
                output=output.model_dump(mode="json"),
            )
        engine.store.commit_transition(moved, entry, checkpoint)
        self.run = moved  # only after the commit: a failed commit leaves the run where it was
        if checkpoint is not None and output is not None:
            self.outputs[checkpoint.state] = output
        engine._observe(moved, entry)


def _status(state: str) -> RunStatus:
    return {"done": RunStatus.DONE, "failed": RunStatus.FAILED}.get(state, RunStatus.ACTIVE)


def _result(event: str, output: BaseModel | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"ended_by": event}
    if output is not None:
        summary["output"] = type(output).__name__
        for key in ("placed", "succeeded", "outcome"):
            if hasattr(output, key):
                summary[key] = str(getattr(output, key))
    return summary
