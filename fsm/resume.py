"""Rebuilding a run's step outputs from its checkpoints, and when a run may no longer trade.

Resume continues the *same* run from its stored state: it loads the run row and its
checkpoints (never the history of other runs), so its cost does not grow with the database.
A step whose transition was committed is never re-run; its checkpoint is used instead. How each
state resumes is declared in its spec (``fsm.spec``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from fsm.errors import InvalidStepOutput
from fsm.records import Checkpoint, RunRecord
from fsm.spec import SpecSet


def load_outputs(checkpoints: list[Checkpoint], specs: SpecSet) -> dict[str, BaseModel]:
    """The latest checkpoint of each state, validated against its spec's output model."""
    outputs: dict[str, BaseModel] = {}
    for checkpoint in checkpoints:
        spec = specs[checkpoint.state]
        if spec.output is None or checkpoint.schema_version != spec.schema_version:
            raise InvalidStepOutput(
                f"checkpoint {checkpoint.seq} of {checkpoint.state} has schema version "
                f"{checkpoint.schema_version}, this tradefsm reads {spec.schema_version}",
                run_id=checkpoint.run_id,
                state=checkpoint.state,
            )
        outputs[checkpoint.state] = spec.output.model_validate(checkpoint.output)
    return outputs


def stale_reason(run: RunRecord, now: datetime, stale_after_days: int) -> str | None:
    """Why the run may no longer trade on its data (older than the run's policy allows), or
    None when it is fresh."""
    age = (now.date() - run.as_of).days
    if age > stale_after_days:
        return (
            f"run {run.run_id} is for {run.as_of}, {age} day(s) ago (limit "
            f"{stale_after_days}): it must not trade on old data; "
            f"`tradefsm retry {run.run_id}` starts a fresh run"
        )
    return None


def deadline_passed(run: RunRecord, now: datetime) -> bool:
    return run.deadline_at is not None and now > run.deadline_at
