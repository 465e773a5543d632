"""Drives one run: step attempts, guards, and one committed transaction per transition."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from tenacity import Retrying, retry_if_exception, stop_after_attempt

from fsm.attempts import backoff, call_with_timeout, is_transient
from fsm.commitments import checkpoint_digest, intents_digest, outcome_digest
from fsm.errors import DeadlineExceeded, GuardRejected, StaleRun, TradeFsmError
from fsm.failpoints import failpoint
from fsm.guards import GuardContext, evaluate
from fsm.ledger import seal
from fsm.ports import RunContext
from fsm.records import Checkpoint, Fence, GuardDecision, RunRecord, RunStatus, StepAttempt
from fsm.redaction import redact
from fsm.resume import POLICIES, deadline_passed
from fsm.steps.runner import StepEnv, StepResult

if TYPE_CHECKING:
    from fsm.engine import Engine


class RunDriver:
    """Holds the last committed run row, the step outputs so far and the attempt counts."""

    def __init__(
        self,
        engine: Engine,
        run: RunRecord,
        outputs: dict[str, BaseModel] | None = None,
        attempts: Counter[str] | None = None,
    ) -> None:
        self.engine = engine
        self.run = run
        self.attempts: Counter[str] = attempts or Counter()
        ctx = RunContext(run.run_id, run.account_id, run.as_of, run.mode)
        ports = engine.step_ports
        if engine.ports.broker_for is not None:
            ports = replace(ports, broker=engine.ports.broker_for(run.account_id))
        self.env = StepEnv(ctx, ports, outputs or {}, self.fence)
        self._last_attempt: StepAttempt | None = None

    # ---- leases and fences --------------------------------------------------------------

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.engine.settings.lease_seconds)

    def fence(self) -> Fence:
        """The proof of ownership for a write that does not move the run (intents, attempts)."""
        assert self.run.lease_owner, "a driven run always has a lease owner"
        return Fence(
            run_id=self.run.run_id,
            version=self.run.version,
            lease_owner=self.run.lease_owner,
            lease_expires_at=self._lease_until(self.engine.clock.now()),
        )

    # ---- the loop ---------------------------------------------------------------------------

    def step(self) -> None:
        started = self.engine.clock.now()
        if deadline_passed(self.run, started):
            self.stop_trading(
                DeadlineExceeded(
                    f"run {self.run.run_id} passed its deadline {self.run.deadline_at}",
                    run_id=self.run.run_id,
                    state=self.run.state,
                ),
                started,
            )
            return
        try:
            result = self._attempt_step(self.run.state)
        except TradeFsmError as exc:
            self._fail(exc, started)
            return
        self._advance(result, started)

    def _attempt_step(self, state: str) -> StepResult:
        settings = self.engine.settings
        step = self.engine.steps[state]
        timeout = (
            settings.execution_timeout_seconds
            if state == "executing"
            else settings.step_timeout_seconds
        )
        retrying = Retrying(
            stop=stop_after_attempt(settings.retry_attempts if POLICIES[state].retries else 1),
            wait=backoff(settings),
            retry=retry_if_exception(lambda error: is_transient(error, state)),
            before_sleep=lambda _state: self._store_failed_attempt(),
            sleep=self.engine.sleep,
            reraise=True,
        )
        result: StepResult = retrying(self._one_attempt, state, lambda: step(self.env), timeout)
        return result

    def _one_attempt(self, state: str, call: Any, timeout: float) -> StepResult:
        self.attempts[state] += 1
        started = self.engine.clock.now()
        try:
            result: StepResult = (
                call() if state == "idle" else call_with_timeout(call, timeout, state)
            )
        except TradeFsmError as exc:
            self._last_attempt = self._attempt_record(state, started, exc)
            raise
        self._last_attempt = self._attempt_record(state, started, None)
        return result

    def _attempt_record(
        self, state: str, started: datetime, error: TradeFsmError | None
    ) -> StepAttempt:
        return StepAttempt(
            run_id=self.run.run_id,
            state=state,
            attempt=self.attempts[state],
            started_at=started,
            finished_at=self.engine.clock.now(),
            outcome="error" if error else "ok",
            error_type=error.error_type if error else None,
            error_message=redact(error.message, self.engine.secrets) if error else None,
        )

    def _store_failed_attempt(self) -> None:
        assert self._last_attempt is not None
        self.engine.store.record_attempt(self._last_attempt, self.fence())
        self._last_attempt = None
        failpoint("attempt.stored")

    def _advance(self, result: StepResult, started: datetime) -> None:
        transition = self.engine.definition.transition(self.run.state, result.event)
        context = self._guard_context(result.output)
        decisions = evaluate(transition.guards, context, self.engine.guards)
        refused = next((d for d in decisions if not d.passed), None)
        if refused is None:
            self._commit(result.event, transition.target, decisions, started, output=result.output)
            return
        self._commit(result.event, None, decisions, started, output=result.output)
        self._fail(
            GuardRejected(
                f"guard {refused.name} refused {result.event}: {refused.reason}",
                guard=refused.name,
                reason=refused.reason,
                run_id=self.run.run_id,
                state=self.run.state,
                event=result.event,
            ),
            self.engine.clock.now(),
        )

    def stop_trading(self, error: TradeFsmError, started: datetime) -> None:
        """Fail a stale or overdue run; in executing, first reconcile what was already sent."""
        if self.run.state == "executing":
            self.env.may_submit = False
            try:
                self.engine.steps["executing"](self.env)
            except TradeFsmError as exc:
                error = type(error)(f"{error.message}; reconciling orders failed: {exc.message}")
        self._fail(error, started)

    def stale(self, reason: str) -> None:
        self.stop_trading(
            StaleRun(reason, run_id=self.run.run_id, state=self.run.state),
            self.engine.clock.now(),
        )

    def cancel(self, actor: str, reason: str) -> None:
        transition = self.engine.definition.transition(self.run.state, "cancel")
        ctx = replace(self._guard_context(None), actor=actor, reason=reason)
        decisions = evaluate(transition.guards, ctx, self.engine.guards)
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
        message = redact(reason, self.engine.secrets)
        failure = {"error_type": "Cancelled", "stage": self.run.state, "message": message}
        self._commit(
            "cancel", transition.target, decisions, started,
            actor=actor, error=("Cancelled", message), failure=failure,
        )  # fmt: skip

    def _fail(self, error: TradeFsmError, started: datetime) -> None:
        message = redact(error.message, self.engine.secrets)
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

    # ---- the one transaction per transition -----------------------------------------------

    def _commit(
        self,
        event: str,
        target: str | None,
        decisions: tuple[GuardDecision, ...],
        started: datetime,
        *,
        output: BaseModel | None = None,
        actor: str | None = None,
        error: tuple[str, str] | None = None,
        failure: dict[str, Any] | None = None,
    ) -> None:
        engine, run = self.engine, self.run
        now = engine.clock.now()
        seq = run.version + 1
        attempt, self._last_attempt = self._last_attempt, None
        new_state = target or run.state
        final = new_state in engine.definition.final_states
        failure = failure if failure is not None else run.failure
        result = _result(event, output) if new_state == "done" else run.result
        checkpoint = None
        if output is not None and target is not None:
            checkpoint = Checkpoint(
                run_id=run.run_id,
                seq=seq,
                state=run.state,
                schema_version=int(getattr(output, "schema_version", 1)),
                output=output.model_dump(mode="json"),
            )
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
            attempt=attempt.attempt if attempt else 1,
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
            commits=self._commits(checkpoint, final, result, failure),
        )
        moved = run.model_copy(
            update={
                "state": new_state,
                "status": _status(new_state),
                "version": seq,
                "head_hash": entry.hash,
                "updated_at": now,
                # Renewed while driven; released (expired now) when the run ends.
                "lease_expires_at": now if final else self._lease_until(now),
                "failure": failure,
                "result": result,
            }
        )
        engine.store.commit_transition(moved, entry, checkpoint, attempt)
        self.run = moved  # only after the commit: a failed commit leaves the run where it was
        if checkpoint is not None and output is not None:
            self.env.outputs[checkpoint.state] = output
        failpoint(f"transition.{event}")
        engine.observe(moved, entry)

    def _commits(
        self, checkpoint: Checkpoint | None, final: bool, result: Any, failure: Any
    ) -> dict[str, str]:
        """Digests of what this transition commits to, beside the transition itself."""
        commits: dict[str, str] = {}
        if checkpoint is not None:
            commits["checkpoint"] = checkpoint_digest(
                checkpoint.state, checkpoint.schema_version, checkpoint.output
            )
        if self.run.state == "executing":  # leaving it: the orders as they stand now
            commits["intents"] = intents_digest(self.engine.store.intent_heads(self.run.run_id))
        if final:
            commits["outcome"] = outcome_digest(result, failure)
        return commits


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
