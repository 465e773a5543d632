"""The approval queue: what a person deciding on a waiting run needs, from what it recorded.

For each run parked in ``awaiting_approval``: its plan's total against the approval limit of
the policy it was planned under (the inputs of the ``approval_needed`` guard decision that
parked it, so the figure is the one the run was decided on), since when it waits, its
deadline and the time left, the dates of the prices the plan was built on, and the approve
and reject commands with the run's full id, ready to copy.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fsm import display
from fsm.console import inputs
from fsm.records import RebalancePlan
from fsm.requests import POLICY_PARAM

APPROVAL_GUARD = "approval_needed"
ACTOR_AND_REASON = '--actor YOUR_NAME --reason "WHY"'


def waiting_run(details: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One waiting run as the queue shows it (``details``: ``fsm.views.run_details``)."""
    run = details["run"]
    entered = _entry_into(details["ledger"], run["state"])
    decision = next((g for g in entered["guards"] if g["name"] == APPROVAL_GUARD), None) \
        if entered else None  # fmt: skip
    decided = decision["inputs"] if decision else {}
    waiting = details["awaiting_approval"] or {}
    plan = RebalancePlan.model_validate(waiting["plan"]) if waiting.get("plan") else None
    deadline = waiting.get("deadline_at")
    return {
        "run": run,
        "requested_by": details["requested_by"],
        "total": decided.get("total") or (plan.notional if plan else None),
        "limit": decided.get("limit") or None,
        "limit_source": decided.get("source"),
        "reason": decision["reason"] if decision else None,
        "policy_version": run["params"].get(POLICY_PARAM),
        "since": entered["occurred_at"] if entered else None,
        "waited": display.age(entered["occurred_at"], now) if entered else None,
        "deadline": deadline,
        "countdown": display.countdown(deadline, now) if deadline else None,
        "overdue": deadline is not None and datetime.fromisoformat(deadline) <= now,
        "inputs": inputs.by_symbol(details),
        "price_dates": price_dates(plan) if plan else [],
        "commands": commands(run),
    }


def in_queue_order(waiting: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The soonest deadline first, runs without one after them, the longest waiting first."""
    return sorted(waiting, key=lambda w: (w["deadline"] is None, w["deadline"] or "",
                                          w["since"] or ""))  # fmt: skip


def price_dates(plan: RebalancePlan) -> list[dict[str, Any]]:
    """Each date of the plan's prices with its symbols; ``stale`` when before the plan's day."""
    by_day: dict[date, list[str]] = {}
    for symbol, day in sorted(plan.price_dates.items()):
        by_day.setdefault(day, []).append(symbol)
    return [{"date": day.isoformat(), "symbols": symbols, "stale": day < plan.as_of}
            for day, symbols in sorted(by_day.items())]  # fmt: skip


def commands(run: dict[str, Any]) -> dict[str, str]:
    """The approve and reject commands for the run; a live run's approval is signed
    (``--key``, as signed approvals require in live mode)."""
    key = " --key YOUR_KEY_FILE" if run["mode"] == "live" else ""
    run_id = run["run_id"]
    return {"approve": f"tradefsm approve {run_id} {ACTOR_AND_REASON}{key}",
            "reject": f"tradefsm reject {run_id} {ACTOR_AND_REASON}"}  # fmt: skip


def _entry_into(ledger: list[dict[str, Any]], state: str) -> dict[str, Any] | None:
    """The accepted ledger row that moved the run into ``state`` last."""
    return next((e for e in reversed(ledger) if e["accepted"] and e["target"] == state), None)
