"""Resume rules per state, as data, and the rebuilding of a run's step outputs.

Resume continues the *same* run from its stored state: it loads the run row and its
checkpoints (never the history of other runs), so its cost does not grow with the database.
A step whose transition was committed is never re-run; its checkpoint is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from fsm.errors import InvalidStepOutput
from fsm.records import (
    AllocationAnalysis,
    Checkpoint,
    ExecutionReport,
    RebalancePlan,
    RunRecord,
    SignalSet,
)
from fsm.settings import Settings


@dataclass(frozen=True)
class StatePolicy:
    on_resume: str  # re-enter | reuse checkpoint | reconcile
    uses: tuple[str, ...]  # checkpoints of earlier states the step reads
    retries: bool  # transient errors retried with backoff (executing: never after a timeout)
    note: str

    def as_json(self) -> dict[str, object]:
        return {"on_resume": self.on_resume, "uses": list(self.uses), "retries": self.retries,
                "note": self.note}  # fmt: skip


POLICIES: dict[str, StatePolicy] = {
    "idle": StatePolicy("re-enter", (), True, "start is re-evaluated: guards run again"),
    "generating_signals": StatePolicy(
        "re-enter", (), True,
        "signals are generated again while as_of is fresh; a stale run fails with StaleRun",
    ),
    "analyzing": StatePolicy(
        "reuse checkpoint", ("generating_signals",), True,
        "signals come from their checkpoint; account and prices are read again",
    ),
    "planning": StatePolicy(
        "reuse checkpoint", ("analyzing",), True,
        "pure: the plan is computed again from the analysis checkpoint",
    ),
    "executing": StatePolicy(
        "reconcile", ("planning",), True,
        "each committed intent is looked up at the broker by client_order_id; only intents "
        "the broker never saw are submitted, never twice",
    ),
}  # fmt: skip

CHECKPOINT_MODELS: dict[str, type[BaseModel]] = {
    "generating_signals": SignalSet,
    "analyzing": AllocationAnalysis,
    "planning": RebalancePlan,
    "executing": ExecutionReport,
}


def load_outputs(checkpoints: list[Checkpoint]) -> dict[str, BaseModel]:
    """The latest checkpoint of each state, validated against its model."""
    outputs: dict[str, BaseModel] = {}
    for checkpoint in checkpoints:
        model = CHECKPOINT_MODELS[checkpoint.state]
        if checkpoint.schema_version != model.model_fields["schema_version"].default:
            raise InvalidStepOutput(
                f"checkpoint {checkpoint.seq} of {checkpoint.state} has schema version "
                f"{checkpoint.schema_version}, this tradefsm reads "
                f"{model.model_fields['schema_version'].default}",
                run_id=checkpoint.run_id,
                state=checkpoint.state,
            )
        outputs[checkpoint.state] = model.model_validate(checkpoint.output)
    return outputs


def stale_reason(run: RunRecord, now: datetime, settings: Settings) -> str | None:
    """Why the run may no longer trade on its data, or None when it is fresh."""
    age = (now.date() - run.as_of).days
    if age > settings.stale_after_days:
        return (
            f"run {run.run_id} is for {run.as_of}, {age} day(s) ago (limit "
            f"{settings.stale_after_days}): it must not trade on old data; "
            f"`tradefsm retry {run.run_id}` starts a fresh run"
        )
    return None


def deadline_passed(run: RunRecord, now: datetime) -> bool:
    return run.deadline_at is not None and now > run.deadline_at
