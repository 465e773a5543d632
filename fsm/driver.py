"""Drives one run: step attempts, guards, and one committed transaction per transition."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from fsm.attempts import as_step_error, attempt_record, backoff
from fsm.cancels import stand_down_reason
from fsm.committing import TransitionCommits
from fsm.daily import daily_check, recounting
from fsm.errors import (
    CancelRequested,
    ConcurrentModification,
    DatabaseUnavailable,
    DeadlineExceeded,
    GuardRejected,
    RunInterrupted,
    StaleRun,
    StorageAccessDenied,
    TradeFsmError,
    TradingHalted,
    replace_message,
)
from fsm.guardcontext import GuardContext
from fsm.guards import evaluate
from fsm.leasekeeper import KEEPER
from fsm.lineage import lineage_for
from fsm.machines.names import TradingEvent as E
from fsm.ports import RunContext
from fsm.records import Fence, RunRecord, StepAttempt
from fsm.redaction import redact
from fsm.resume import deadline_passed
from fsm.retries import Retry
from fsm.runtime import Runtime
from fsm.signatures import ApprovalEvidence
from fsm.spec import StateSpec
from fsm.steps.runner import StepEnv, StepResult


class RunDriver(TransitionCommits):
    """Holds the last committed run row, the step outputs so far and the attempt counts; each
    transition is committed by ``fsm.committing.TransitionCommits``."""

    def __init__(
        self,
        runtime: Runtime,
        run: RunRecord,
        outputs: dict[str, BaseModel] | None = None,
        attempts: Counter[str] | None = None,
    ) -> None:
        self.rt = runtime
        self.run = run
        self.attempts: Counter[str] = attempts or Counter()
        ctx = RunContext(run.run_id, run.account_id, run.as_of, run.mode, run.parent_run_id)
        self.env = StepEnv(ctx, runtime.ports_for(run.account_id), runtime.store, runtime.clock,
                           runtime.settings, outputs or {}, self.fence, runtime.failpoint,
                           stop_point=self.stop_point,
                           limits=runtime.policies.of_run(run))  # fmt: skip
        self._last_attempt: StepAttempt | None = None
        self._halted_by: str | None = None  # the halts head a failing row commits to

    # ---- fences -----------------------------------------------------------------------------

    def fence(self) -> Fence:
        """The proof of ownership for a write that does not move the run (intents, attempts)."""
        assert self.run.lease_owner, "a driven run always has a lease owner"
        return Fence(
            run_id=self.run.run_id,
            version=self.run.version,
            lease_owner=self.run.lease_owner,
            lease_expires_at=self._lease_until(self.rt.clock.now()),
        )

    # ---- the loop ---------------------------------------------------------------------------

    def drive(self) -> RunRecord:
        """Step until the run ends or parks for a person, or the process is asked to stop:
        then its lease is released and RunInterrupted says how to resume it."""
        final, parked = self.rt.definition.final_states, self.rt.specs.parked_states
        try:
            while self.run.state not in final and self.run.state not in parked:
                self.stop_point()
                with self.rt.tracing.step(self.run):
                    self.step()
        except (RunInterrupted, ConcurrentModification) as exc:
            obeyed = stand_down_reason(self.rt.store, self.run, exc)
            if isinstance(obeyed, RunInterrupted | CancelRequested):  # let the lease go now
                assert self.run.lease_owner, "a driven run always has a lease owner"
                self.rt.store.release_leases(self.run.lease_owner, self.rt.clock.now())
            raise obeyed from None if obeyed is exc else exc
        return self.run

    def stop_point(self) -> None:
        """A safe point (between transitions, before an order): stand down if asked to."""
        stop = self.rt.stop
        if stop.requested:
            run_id, state = self.run.run_id, self.run.state
            raise RunInterrupted(
                f"stopped by {stop.signal_name} while {state}; run {run_id} is resumable: "
                f"`tradefsm resume {run_id}` (or `tradefsm cancel {run_id}`)",
                signal_name=stop.signal_name, run_id=run_id, state=state,
            )  # fmt: skip

    def step(self) -> None:
        started = self.rt.clock.now()
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
            result = self._attempt_step(self.spec)
        except (ConcurrentModification, DatabaseUnavailable, StorageAccessDenied, RunInterrupted):
            # Another driver owns the run now, the database stayed away past the store's
            # retry budget or refused a privilege, or the process must stop: write nothing
            # more; the run stays active and resumable.
            raise
        except TradingHalted as exc:  # before an order: stand down, then fail naming the halt
            self._halted_by = exc.head
            self.stop_trading(exc, started)
            return
        except TradeFsmError as exc:
            self._fail(exc, started)
            return
        recounting(lambda: self._advance(result, started))

    def refuse(self, error: TradingHalted) -> None:
        """Fail a run that may not start (its account is halted): a ledgered refusal."""
        self._halted_by = error.head
        error.run_id, error.state = self.run.run_id, self.run.state
        self._fail(error, self.rt.clock.now())

    def _attempt_step(self, spec: StateSpec) -> StepResult:
        settings, step = self.rt.settings, spec.step
        assert step is not None, "parked states are never stepped"
        timeout = spec.timeout_seconds(settings)
        attempts = spec.attempts(settings)
        state = self.run.state
        retry = Retry(retry=spec.retries, backoff=lambda: backoff(settings), sleep=self.rt.sleep,
                      attempts=attempts, before_sleep=self._store_failed_attempt)  # fmt: skip
        return retry(
            f"step {state}", lambda: self._one_attempt(state, lambda: step(self.env), timeout)
        )

    def _one_attempt(self, state: str, call: Any, timeout: float | None) -> StepResult:
        self.stop_point()  # a stop asked during the pause before a retry: no further try
        self.attempts[state] += 1
        call = self.rt.tracing.attempt(state, self.attempts[state], call)
        started = self.rt.clock.now()
        interval = self.rt.settings.renew_every
        try:
            with KEEPER.watching(self.rt.store, self.fence, interval) as watch:
                result: StepResult = (
                    as_step_error(call, state)
                    if timeout is None
                    else self.rt.timeouts(call, timeout, state)
                )
            if watch.lost:
                raise ConcurrentModification(
                    f"run {self.run.run_id} was taken over by another driver while {state} ran; "
                    "this process stops without writing", run_id=self.run.run_id, state=state,
                )  # fmt: skip
        except (ConcurrentModification, RunInterrupted):
            raise  # not a step failure: nothing more may be written
        except TradeFsmError as exc:
            self._last_attempt = self._attempt_record(state, started, exc)
            if self.rt.stop.requested:  # asked while this try ran (or hung): stand down instead
                self._store_failed_attempt()
                self.stop_point()
            raise
        self._last_attempt = self._attempt_record(state, started, None)
        return result

    def _attempt_record(
        self, state: str, started: datetime, error: TradeFsmError | None
    ) -> StepAttempt:
        return attempt_record(self.run.run_id, state, self.attempts[state], (started,
                              self.rt.clock.now()), error, self.rt.secrets)  # fmt: skip

    def _store_failed_attempt(self, *_retrying: object) -> None:
        """Record the try that just failed (also tenacity's hook before a pause)."""
        assert self._last_attempt is not None
        self.rt.store.record_attempt(self._last_attempt, self.fence())
        self._last_attempt = None
        self.rt.failpoint("attempt.stored")

    def _advance(self, result: StepResult, started: datetime) -> None:
        transition = self.rt.definition.transition(self.run.state, result.event)
        context = self._guard_context(result.output, transition.guards)
        decisions = evaluate(transition.guards, context, self.rt.guards)
        refused = next((d for d in decisions if not d.passed), None)
        if refused is None:
            self._commit(result.event, transition.target, decisions, started,
                         output=result.output, daily=context.daily)  # fmt: skip
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
            self.rt.clock.now(),
        )

    def stop_trading(self, error: TradeFsmError, started: datetime) -> None:
        """Fail a stale or overdue run; where orders are placed, first stand them down."""
        note = self._stand_down()
        if note:
            error = replace_message(error, f"{error.message}; {note}")
        self._fail(error, started)

    def _stand_down(self) -> str | None:
        """What the state's spec undoes before the run fails mid-way (executing: its orders)."""
        stand_down = self.spec.stand_down
        return None if stand_down is None else stand_down(self.env)

    def stale(self, reason: str) -> None:
        self.stop_trading(
            StaleRun(reason, run_id=self.run.run_id, state=self.run.state),
            self.rt.clock.now(),
        )

    def command(self, event: str, actor: str, reason: str, *, failure_type: str,
                approval: ApprovalEvidence | None = None) -> None:  # fmt: skip
        """A person's event (cancel, approved, rejected): its guards, then its commit.

        A refused command is ledgered (accepted=false) and raises GuardRejected; the run stays
        where it was.
        """
        recounting(lambda: self._command(event, actor, reason, failure_type, approval))

    def _command(self, event: str, actor: str, reason: str, failure_type: str,
                 approval: ApprovalEvidence | None) -> None:  # fmt: skip
        transition = self.rt.definition.transition(self.run.state, event)
        uses = self.spec.uses
        output = self.env.outputs.get(uses[-1]) if uses else None
        decision = self.rt.specs.decision(self.run.state, event)
        now_in_force = self.rt.policies.current() if decision and decision.policy_now else None
        ctx = replace(self._guard_context(output, transition.guards, now_in_force), actor=actor,
                      reason=reason, priced_against=self.rt.clock.now().date(),
                      approval=approval)  # fmt: skip
        decisions = evaluate(transition.guards, ctx, self.rt.guards)
        started = self.rt.clock.now()
        refused = next((d for d in decisions if not d.passed), None)
        if refused is not None:
            self._commit(event, None, decisions, started, actor=actor or "unknown")
            raise GuardRejected(
                f"{event} refused by guard {refused.name}: {refused.reason}",
                guard=refused.name, reason=refused.reason, run_id=self.run.run_id,
                state=self.run.state, event=event,
            )  # fmt: skip
        if transition.target not in self.rt.definition.final_states:
            self._commit(event, transition.target, decisions, started, actor=actor,
                         daily=ctx.daily)  # fmt: skip
            return
        note = self._stand_down() if event == E.CANCEL else None
        message = redact(f"{reason}; {note}" if note else reason, self.rt.secrets)
        failure = {"error_type": failure_type, "stage": self.run.state, "message": message}
        self._commit(
            event, transition.target, decisions, started,
            actor=actor, error=(failure_type, message), failure=failure,
        )  # fmt: skip

    def _fail(self, error: TradeFsmError, started: datetime) -> None:
        message = redact(error.message, self.rt.secrets)
        failure = {"error_type": error.error_type, "stage": self.run.state, "message": message}
        failed = self.rt.definition.transition(self.run.state, E.FAIL).target
        self._commit(
            E.FAIL, failed, (), started, error=(error.error_type, message), failure=failure
        )

    def _guard_context(
        self, output: object, guards: tuple[str, ...], at_approval: int | None = None
    ) -> GuardContext:
        now = self.rt.clock.now()
        limits, today = self.rt.policies.of_run(self.run, at_approval), now.date()
        return GuardContext(
            settings=self.rt.settings,
            mode=self.run.mode,
            as_of=self.run.as_of,
            today=today,
            now=now,
            output=output,
            lineage=lineage_for(self.rt.store, self.run, guards),
            limits=limits,
            daily=daily_check(
                self.rt.store, limits, self.run.account_id, today, guards, self.rt.specs.sent_plans
            ),
        )
