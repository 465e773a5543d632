"""The console's query parameters, read strictly: a value that is not one of the parameter's
valid values is an ``InvalidInput`` naming them (the console answers 400), never ignored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fsm.errors import InvalidInput
from fsm.guards import GUARDS
from fsm.kinds import RunStatus
from fsm.ports import RunFilter

STATUSES = tuple(s.value for s in RunStatus)
MODES = ("paper", "live", "dry-run", "signals-only")
FORMATS = ("csv",)
# A failure filter: the kind of ending (its failure's error_type) or the guard that refused.
FAILURE_KINDS = {"cancelled": "Cancelled", "rejected": "Reject", "expired": "ApprovalExpired",
                 "guard": "GuardRejected"}  # fmt: skip


def failure_values() -> tuple[str, ...]:
    return (*FAILURE_KINDS, *sorted(GUARDS))


def choice(query: Mapping[str, str], name: str, values: Sequence[str]) -> str | None:
    value = query.get(name) or None
    if value is not None and value not in values:
        raise InvalidInput(f"{name} must be one of {', '.join(values)} (or empty), not {value!r}")
    return value


def page(query: Mapping[str, str]) -> int:
    value = query.get("page") or "1"
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 10**6):
        raise InvalidInput(f"page must be a whole number from 1 to 1000000, not {value!r}")
    return int(value)


REFRESH_SECONDS = (5, 3600)  # the auto-refresh of an active run's page: its bounds


def refresh(query: Mapping[str, str]) -> int | None:
    """``?refresh=N``: reload an active run's page every N seconds (None: never)."""
    value = query.get("refresh") or None
    low, high = REFRESH_SECONDS
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
        raise InvalidInput(f"refresh must be a number of seconds from {low} to {high}, "
                           f"not {value!r}")  # fmt: skip
    return int(value)


def day(query: Mapping[str, str], name: str, *, end: bool = False) -> datetime | None:
    """A filter date, ``YYYY-MM-DD``: the UTC midnight it starts, or with ``end`` the midnight
    after it (so a ``to`` date includes its own day)."""
    value = query.get(name) or None
    if value is None:
        return None
    try:
        start = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        return start + timedelta(days=1) if end else start
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{name} must be a date written YYYY-MM-DD (e.g. 2026-01-31), not {value!r}"
        ) from None


def run_filter(query: Mapping[str, str], **fixed: Any) -> RunFilter:
    """The run-list filters every list of runs takes (search, account, requester, failure,
    state, status, mode, dates), with ``fixed`` fields (paging, a list's own state) on top."""
    failure = choice(query, "failure", failure_values())
    fields: dict[str, Any] = {
        "search": query.get("q", "").strip() or None,
        "account_id": query.get("account") or None,
        "requested_by": query.get("requester") or None,
        "state": query.get("state") or None,
        "status": choice(query, "status", STATUSES),
        "mode": choice(query, "mode", MODES),
        "since": day(query, "since"),
        "until": day(query, "until", end=True),
        "failure_type": FAILURE_KINDS.get(failure or "", "GuardRejected" if failure else None),
        "guard": None if failure is None or failure in FAILURE_KINDS else failure,
    }
    return RunFilter(**(fields | fixed))


def ending(run: Mapping[str, Any]) -> str:
    """How an ended run is shown: cancelled, rejected or expired rather than just failed."""
    failure = run.get("failure") or {}
    kinds = {error_type: kind for kind, error_type in FAILURE_KINDS.items() if kind != "guard"}
    if run.get("status") != RunStatus.FAILED:
        return ""
    return kinds.get(str(failure.get("error_type")), "")
