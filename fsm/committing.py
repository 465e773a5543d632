"""The driver's one transaction per transition: the ledger row, checkpoint and moved run row
it builds, and the deadline a transition sets; committed together or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from fsm.canonical import canonical_json
from fsm.commitments import deadline_decision, result_summary
from fsm.dailytotals import DailyCheck
from fsm.durability import flushes
from fsm.errors import DailyTotalsMoved
from fsm.kinds import RunStatus
from fsm.ledger import sealed
from fsm.machines.names import TradingState as S
from fsm.records import Checkpoint, EncodedDocuments, GuardDecision, RunRecord, StepAttempt
from fsm.runtime import Runtime
from fsm.spec import StateSpec
from fsm.steps.runner import StepEnv
from fsm.transitioncommits import transition_commits


def _checkpoint(run: RunRecord, seq: int, output: BaseModel) -> tuple[Checkpoint, str]:
    """The checkpoint of ``output`` leaving ``run``'s state, and its text encoded once (hashed
    and stored as is)."""
    dumped = output.model_dump(mode="json")
    checkpoint = Checkpoint(
        run_id=run.run_id,
        seq=seq,
        state=run.state,
        schema_version=int(getattr(output, "schema_version", 1)),
        output=dumped,
    )
    return checkpoint, canonical_json(dumped)


class TransitionCommits:
    """The commit half of ``fsm.driver.RunDriver``: ``_commit`` writes one transition (moved
    run row, sealed ledger row, checkpoint, the pending attempt) in one store transaction and
    only then moves the in-memory run; a failed commit leaves it where it was."""

    rt: Runtime
    run: RunRecord
    env: StepEnv
    _last_attempt: StepAttempt | None
    _halted_by: str | None  # the halts head a failing row commits to

    @property
    def spec(self) -> StateSpec:
        return self.rt.specs[self.run.state]

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.rt.settings.lease_seconds)

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
            checkpoint, output_text = _checkpoint(run, seq, output)
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
