"""What a transition's ledger row commits to beside the transition itself: the digests of
``fsm.commitments`` of its checkpoint, the run's orders, its outcome and the cancel requests a
cancel obeyed and the halts history a failure for a halt obeyed."""

from __future__ import annotations

from typing import Any

from fsm.cancels import COMMIT_KEY as CANCELS_KEY
from fsm.commitments import checkpoint_digest, intents_digest, outcome_digest
from fsm.halts import COMMIT_KEY as HALTS_KEY
from fsm.machines.names import TradingEvent as E
from fsm.ports import RunStore
from fsm.records import Checkpoint


def transition_commits(store: RunStore, run_id: str, event: str, on_resume: str,
                       checkpoint: Checkpoint | None, output_text: str | None, final: bool,
                       outcome: tuple[Any, Any],
                       halted_by: str | None) -> dict[str, str]:  # fmt: skip
    """The ``commits`` of a row leaving a state resumed by ``on_resume``; ``outcome`` is the
    run's (result, failure) summaries, committed when ``final``; ``halted_by`` the head of
    the halts history a failure for a halt obeyed."""
    commits: dict[str, str] = {}
    if checkpoint is not None:
        commits["checkpoint"] = checkpoint_digest(
            checkpoint.state, checkpoint.schema_version, output_text
        )
    if on_resume == "reconcile":  # leaving where orders go: what was placed
        commits["intents"] = intents_digest(store.intent_heads(run_id))
    elif final:  # a run ends elsewhere only if it never reached executing: no order
        commits["intents"] = intents_digest(())
    if final:
        commits["outcome"] = outcome_digest(*outcome)
    requests = store.cancel_requests(run_id) if event == E.CANCEL else ()
    if requests:  # the requests this cancel obeyed, by the head of their chain
        commits[CANCELS_KEY] = requests[-1].hash
    if event == E.FAIL and halted_by:  # the halts history this failure obeyed
        commits[HALTS_KEY] = halted_by
    return commits
