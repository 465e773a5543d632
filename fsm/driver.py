"""Drives one run: step attempts, guards, and one committed transaction per transition."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from tenacity import RetryCallState

from fsm.attempts import as_step_error, attempt_record, backoff
from fsm.cancels import stand_down_reason
from fsm.canonical import canonical_json
from fsm.commitments import deadline_decision, result_summary
from fsm.daily import daily_check, recounting
from fsm.dailytotals import DailyCheck
from fsm.durability import flushes
from fsm.errors import (
    CancelRequested,
    ConcurrentModification,
    DailyTotalsMoved,
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
from fsm.kinds import RunStatus
from fsm.leasekeeper import KEEPER
from fsm.ledger import sealed
from fsm.lineage import lineage_for
from fsm.machines.names import TradingEvent as E
from fsm.machines.names import TradingState as S
from fsm.ports import RunContext
from fsm.records import (
    Checkpoint,
    EncodedDocuments,
    Fence,
    GuardDecision,
    RunRecord,
    StepAttempt,
)
from fsm.redaction import redact
from fsm.resume import deadline_passed
from fsm.retries import Retry
from fsm.runtime import Runtime
from fsm.signatures import ApprovalEvidence
from fsm.spec import StateSpec
from fsm.steps.runner import StepEnv, StepResult
from fsm.transitioncommits import transition_commits


class RunDriver:
    """Holds the last committed run row, the step outputs so far and the attempt counts."""

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

    @property
    def spec(self) -> StateSpec:
        return self.rt.specs[self.run.state]

    # ---- leases and fences --------------------------------------------------------------

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.rt.settings.lease_seconds)

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
            raise
        self._last_attempt = self._attempt_record(state, started, None)
        return result

    def _attempt_record(
        self, state: str, started: datetime, error: TradeFsmError | None
    ) -> StepAttempt:
        return attempt_record(self.run.run_id, state, self.attempts[state], (started,
                              self.rt.clock.now()), error, self.rt.secrets)  # fmt: skip

    def _store_failed_attempt(self, _state: str, _retry: RetryCallState) -> None:
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
        daily: DailyCheck | None = None,
    ) -> None:
        rt, run = self.rt, self.run
        now = rt.clock.now()
        seq = run.version + 1
        attempt, self._last_attempt = self._last_attempt, None
        new_state = target or run.state
        final = new_state in rt.definition.final_states
        at_failure = self.spec.at_failure
        if new_state == S.FAILED and output is None and at_failure is not None:
            output = at_failure(rt.store, run.run_id)  # executing: its orders' events
        failure = failure if failure is not None else run.failure
        result = result_summary(event, output) if new_state == S.DONE else run.result
        checkpoint, output_text = None, None
        deadline = self._deadline(new_state, now)
        if deadline != run.deadline_at or run.version == 1:  # committed where it is set
            decisions = (*decisions, deadline_decision(deadline))
        if output is not None and target is not None:
            dumped = output.model_dump(mode="json")
            output_text = canonical_json(dumped)  # encoded once: hashed and stored as is
            checkpoint = Checkpoint(
                run_id=run.run_id,
                seq=seq,
                state=run.state,
                schema_version=int(getattr(output, "schema_version", 1)),
                output=dumped,
            )
        entry, guards_text, commits_text = sealed(
            run.head_hash,
            run_id=run.run_id,
            seq=seq,
            event=event,
            source=run.state,
            target=target,
            accepted=target is not None,
            guards=decisions,
            actor=actor or rt.settings.actor,
            correlation_id=run.correlation_id,
            causation_id=f"{run.run_id}#{run.version}",
            occurred_at=now,
            duration_ms=max(0, int((now - started).total_seconds() * 1000)),
            attempt=attempt.attempt if attempt else 1,
            error_type=error[0] if error else None,
            error_message=error[1] if error else None,
            commits=transition_commits(
                rt.store,
                run.run_id,
                event,
                self.spec.on_resume,
                checkpoint,
                output_text,
                final,
                (result, failure),
                self._halted_by,
            ),
            process=rt.process,
        )
        parked = new_state in rt.specs.parked_states
        moved = run.model_copy(
            update={
                "state": new_state,
                "status": RunStatus.in_state(new_state),
                "version": seq,
                "head_hash": entry.hash,
                "updated_at": now,
                # Renewed while driven; released (expired now) when the run ends or parks.
                "lease_expires_at": now if final or parked else self._lease_until(now),
                "deadline_at": deadline,
                "failure": failure,
                "result": result,
            }
        )
        documents = EncodedDocuments(guards_text, commits_text, output_text)
        flush = flushes(rt.settings.durability, new_state, rt.specs)
        if not flush:
            rt.failpoint("commit.unflushed")
        try:
            rt.store.commit_transition(
                moved, entry, checkpoint, attempt, documents, daily, flush=flush
            )
        except DailyTotalsMoved:
            self._last_attempt = attempt  # the guards are evaluated again: the same attempt
            raise
        self.run = moved  # only after the commit: a failed commit leaves the run where it was
        if checkpoint is not None and output is not None:
            self.env.outputs[checkpoint.state] = output
        rt.failpoint(f"transition.{event}")
        rt.observe(moved, entry)

    def _deadline(self, new_state: str, now: datetime) -> datetime | None:
        """Parking starts the approval deadline; leaving a parked state starts a fresh one."""
        settings, parked = self.rt.settings, self.rt.specs.parked_states
        parking = self.rt.specs[new_state].parking if new_state in parked else None
        if parking is not None and self.run.state not in parked:
            wait = parking.expires(self.rt.policies.of_run(self.run).values)
            return None if wait is None else now + timedelta(seconds=wait)
        leaves = new_state not in parked and new_state not in self.rt.definition.final_states
        if self.run.state in parked and leaves:  # a refused decision leaves it waiting as it was
            return now + timedelta(seconds=settings.run_deadline_seconds)
        return self.run.deadline_at
