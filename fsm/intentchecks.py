"""The order intents part of verifying a run (``fsm.integrity``): each intent's history chain,
its current view against that history, and the set of intents the rows ending the run commit
to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fsm.audit import Finding
from fsm.commitments import commits, committing, intent_event_hash, intents_digest, text_of
from fsm.ledger import GENESIS_HASH

Row = Mapping[str, Any]
VIEW_FIELDS = ("broker_order_id", "filled_qty", "avg_price")
_CURRENT_FIELDS = ("status", "updated_at", *VIEW_FIELDS)  # an intent's view its history sets


@dataclass
class IntentHistory:
    """An order intent's latest view (its ``order_intents`` row) and its events by ``n``."""

    view: Row
    events: Sequence[Row] = field(default_factory=list)


def intent_findings(
    run_id: str, rows: Sequence[Row], intents: Sequence[IntentHistory]
) -> list[Finding]:
    """Each intent's history, and the digest of the set every row ending the run commits to."""
    findings = [f for history in intents for f in _history_findings(run_id, history)]
    closing = committing(rows, "intents")
    if closing:
        heads = [(h.view["client_order_id"], int(h.events[-1]["n"]), h.events[-1]["hash"] or "")
                 if h.events else (h.view["client_order_id"], 0, GENESIS_HASH)
                 for h in intents]  # fmt: skip
        digest = intents_digest(heads)
        findings += [
            Finding("intent_changed", run_id, "the order intents differ from what the "
                    "transition leaving executing or ending the run committed",
                    seq=int(r["seq"]), key="intents")
            for r in closing if not commits(r, "intents", digest)
        ]  # fmt: skip
    return findings


def _history_findings(run_id: str, history: IntentHistory) -> list[Finding]:
    view, coid = history.view, history.view["client_order_id"]
    if not history.events:
        return [Finding("intent_changed", run_id, "the order has no history: it was never "
                        "recorded as planned", key=coid)]  # fmt: skip
    prev, latest = GENESIS_HASH, dict(view) | dict.fromkeys(VIEW_FIELDS)
    for n, event in enumerate(history.events, start=1):
        if (
            int(event["n"]) != n
            or event.get("run_id", view["run_id"]) != view["run_id"]
            or event["prev_hash"] != prev
            or event["hash"] != intent_event_hash(prev, view, event)
        ):
            return [Finding("intent_changed", run_id, f"the order (symbol, side, qty, price) or "
                            f"its history event {event['n']} changed", key=coid)]  # fmt: skip
        prev = event["hash"]
        latest["status"], latest["updated_at"] = event["status"], event["recorded_at"]
        latest.update({k: event[k] for k in VIEW_FIELDS if event[k] is not None})
    if any(_differ(latest[k], view[k]) for k in _CURRENT_FIELDS):
        return [Finding("intent_changed", run_id, "the order's current status differs from "
                        "its history", key=coid)]  # fmt: skip
    return []


def _differ(a: Any, b: Any) -> bool:
    """Whether two stored values name different things; text is compared as it is."""
    if type(a) is str and type(b) is str:
        return a != b  # the common case: what _same would do, without its calls
    return _same(a) != _same(b)


def _same(value: Any) -> str | None:
    return text_of(Decimal(value) if isinstance(value, int | float) else value)
