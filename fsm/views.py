"""Read models: what one run recorded, as the CLI, the audit export and the console show it.

Views read through the ``RunStore`` port only, so every entry point shows the same thing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fsm.halts import in_force
from fsm.keyregistry import ApproverKeys
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunStore
from fsm.records import LedgerEntry, RunRecord
from fsm.requests import SPEC_SET_PARAM
from fsm.signatures import recorded

if TYPE_CHECKING:
    from fsm.diagram import Trace


def run_details(
    store: RunStore, run_id: str, approvers: ApproverKeys | None = None
) -> dict[str, Any]:
    """Everything recorded about one run, as the stable JSON shape of `runs show`; with
    ``approvers`` (the key registry) each approval's signature is verified again."""
    run = store.get_run(run_id)
    ledger = store.ledger(run_id)
    keys = approvers.registered() if approvers is not None else None
    checkpoints = [c.model_dump(mode="json") for c in store.checkpoints(run_id)]
    requests = [r.model_dump(mode="json") for r in store.cancel_requests(run_id)]
    return {
        "run": run.model_dump(mode="json"),
        "requested_by": ledger[0].actor if ledger else None,
        "ledger": [e.model_dump(mode="json") for e in ledger],
        "checkpoints": checkpoints,
        "orders": [i.as_json() for i in store.intents(run_id)],
        "attempts": [a.model_dump(mode="json") for a in store.attempts(run_id)],
        "resume_policy": resume_policy(run),
        "awaiting_approval": _waiting(run, checkpoints),
        "approvals": [a.as_json() for a in recorded(ledger, keys)],
        "cancel_requests": requests,
        # who asked to cancel the run, when and why, while its holder has yet to stand down
        "pending_cancel": requests[-1] if requests and run.status.value == "active" else None,
        # the halts stopping the run's account now (fsm.halts): no run starts, no order goes
        "halted": [h.model_dump(mode="json") for h in in_force(store.halts(), run.account_id)],
    }


def export_bundle(store: RunStore, run_id: str, verification: dict[str, Any]) -> dict[str, Any]:
    """One JSON bundle for an auditor: the run's details, history, definition and proof."""
    details = run_details(store, run_id)
    definition = store.definition(details["run"]["definition_hash"])
    return details | {
        "intents": details.pop("orders"),
        "intent_history": [e.model_dump(mode="json") for e in store.intent_events(run_id)],
        "definition": definition.model_dump(mode="json"),
        "verification": verification,
    }


def export_json(bundle: dict[str, Any]) -> bytes:
    """The bytes of an export: what `audit export --output` writes and the console serves."""
    return (json.dumps(bundle, indent=2, default=str) + "\n").encode()


def resume_policy(run: RunRecord) -> dict[str, Any] | None:
    """How the run's current state resumes, from its spec (trading runs; None when ended)."""
    if run.params.get(SPEC_SET_PARAM, TRADING_SPECS.name) != TRADING_SPECS.name:
        return {"on_resume": "from the facade", "note": "resume with TradingOrchestrator.resume"}
    spec = TRADING_SPECS.get(run.state)
    return None if spec is None else spec.as_json()


def _waiting(run: RunRecord, checkpoints: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For a parked run: the plan that waits, and until when."""
    if run.state not in TRADING_SPECS.parked_states:
        return None
    uses = TRADING_SPECS[run.state].uses
    plan = next((c["output"] for c in reversed(checkpoints) if c["state"] in uses), None)
    deadline = run.deadline_at.isoformat() if run.deadline_at else None
    return {"plan": plan, "deadline_at": deadline}


def run_diagram(store: RunStore, run_id: str) -> tuple[dict[str, Any], str, Trace]:
    """The stored definition a run ran under, and what it did on it: every ledger row that
    left a state (taken or refused, by seq) and the state it is in."""
    from fsm.diagram import Step, Trace  # noqa: PLC0415  # only to draw: not on a run

    run = store.get_run(run_id)
    definition = store.definition(run.definition_hash)
    steps = tuple(
        Step(e.seq, e.source, e.event, e.target if e.accepted else None, _refused_by(e))
        for e in store.ledger(run_id)
        if e.source is not None and (e.target is not None or not e.accepted)
    )
    return definition.canonical, definition.definition_hash, Trace(steps, run.state)


def _refused_by(entry: LedgerEntry) -> tuple[str, ...]:
    return tuple(g.name for g in entry.guards if not g.passed)
