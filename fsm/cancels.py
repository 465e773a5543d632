"""Cancel requests: an operator asks the live process driving a run to stand down.

The protocol (docs/resume.md): ``cancel`` of a run a live process holds first appends a
request (who, why, when, from which process) to ``cancel_requests``; the holder's fenced
lease renewal before every order refuses to renew while the run has a request, so the holder
stands down without sending (CancelRequested) and lets its lease go; only then — or once its
lease has run out or its process is gone — does ``cancel`` take the lease, reconcile the run's
orders with the broker and fail the run. The row that cancels the run commits to the head of
the run's request chain (``commits.cancel_requests``).

Canonical form of a request: a JSON object with the fields of ``HASHED_FIELDS``, keys sorted
(``fsm.canonical``), ``requested_at`` as UTC text; ``hash = sha256(prev_hash + "\\n" +
canonical_json)``, hex; the first request's ``prev_hash`` is ``GENESIS_HASH``, ``n`` counts
from 1 per run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fsm.canonical import canonical_json, utc_text
from fsm.clock import Clock
from fsm.errors import (
    CancelRequested,
    ConcurrentModification,
    RunLeased,
    RunNotResumable,
    TradeFsmError,
)
from fsm.kinds import RunStatus
from fsm.leases import owner_is_gone, unattended
from fsm.ledger import GENESIS_HASH
from fsm.ports import RunStore
from fsm.records import CancelRequest, RunRecord

HASHED_FIELDS = ("run_id", "n", "actor", "reason", "process", "requested_at")
COMMIT_KEY = "cancel_requests"  # the key in the cancelling row's commits


def request_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    body = {name: values[name] for name in HASHED_FIELDS}
    at = body["requested_at"]
    body["requested_at"] = at if isinstance(at, str) else utc_text(at)
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def request_cancel(
    store: RunStore, run: RunRecord, actor: str, reason: str, process: str, now: datetime
) -> CancelRequest:
    """Append a request to ``run``'s chain; the holder obeys it before its next order."""
    earlier = store.cancel_requests(run.run_id)
    prev = earlier[-1].hash if earlier else GENESIS_HASH
    fields = {"run_id": run.run_id, "n": len(earlier) + 1, "actor": actor, "reason": reason,
              "process": process, "requested_at": now}  # fmt: skip
    request = CancelRequest(**fields, prev_hash=prev, hash=request_hash(prev, fields))
    store.request_cancel(request)
    return request


def pending(store: RunStore, run: RunRecord) -> CancelRequest | None:
    """The latest cancel request of an active run (None when it has none, or has ended)."""
    if run.status is not RunStatus.ACTIVE:
        return None
    requests = store.cancel_requests(run.run_id)
    return requests[-1] if requests else None


@dataclass(frozen=True)
class Asking:
    """What `cancel` needs to ask a run's holder to stand down and wait for it."""

    store: RunStore
    clock: Clock
    owner: str  # the cancelling process's lease owner id
    lease_seconds: float
    sleep: Callable[[float], None]
    waiting: Callable[[str], None]  # told once what the cancel waits for

    def ask(self, run: RunRecord, actor: str, reason: str, wait_seconds: float | None) -> RunRecord:
        """Record the request, then the run under this owner's lease once its holder let it
        go (``await_stand_down``). ``wait_seconds`` None: no holder to wait for (it already
        stood down), only whether the run is free now."""
        now = self.clock.now()
        request = request_cancel(self.store, run, actor, reason, self.owner, now)
        if wait_seconds is not None:
            self.waiting(f"cancel of run {run.run_id} requested at "
                         f"{utc_text(request.requested_at)}; waiting up to {wait_seconds:g} s "
                         f"for {run.lease_owner} to stand down")  # fmt: skip
        return await_stand_down(self.store, run, self.owner, self.clock, self.lease_seconds,
                                wait_seconds or 0, self.sleep)  # fmt: skip


def await_stand_down(
    store: RunStore,
    run: RunRecord,
    owner: str,
    clock: Clock,
    lease_seconds: float,
    wait_seconds: float,
    sleep: Callable[[float], None],
) -> RunRecord:
    """Once the holder of ``run`` stood down (let its lease go, or its process is gone, or its
    lease ran out), the run under ``owner``'s lease; a run that ended meanwhile as it is.

    Past ``wait_seconds`` RunLeased says what is still awaited; the request stays, so the
    holder still stands down before its next order and a later ``cancel`` completes it.
    """
    give_up = time.monotonic() + wait_seconds
    while True:
        current = store.get_run(run.run_id)
        now = clock.now()
        if current.status is not RunStatus.ACTIVE:
            return current
        if unattended(current, now) or current.lease_owner == owner:
            gone = owner_is_gone(current.lease_owner)
            expires = now + timedelta(seconds=lease_seconds)
            try:
                return store.acquire_lease(
                    run.run_id, owner, expires, now, current.lease_owner if gone else None
                )
            except RunLeased:
                pass  # taken by another process meanwhile: it too obeys the request
        if time.monotonic() >= give_up:
            raise RunLeased(
                f"run {run.run_id}: cancel requested, but {current.lease_owner} has not stood "
                f"down yet (it does before its next order; its lease runs until "
                f"{current.lease_expires_at}); nothing was cancelled yet: `tradefsm cancel "
                f"{run.run_id}` again completes it (or a longer --wait)",
                run_id=run.run_id, state=current.state,
            )  # fmt: skip
        sleep(0.05)


def stand_down_reason(store: RunStore, run: RunRecord, exc: TradeFsmError) -> TradeFsmError:
    """``exc``, or for a write refused because someone asked to cancel the run, the
    CancelRequested that says so (its holder then lets the lease go at once)."""
    if not isinstance(exc, ConcurrentModification) or isinstance(exc, CancelRequested):
        return exc
    requests = store.cancel_requests(run.run_id)
    if not requests:
        return exc
    return CancelRequested(
        f"run {run.run_id}: a cancel was requested by {requests[-1].actor}; this process "
        "stood down and sends nothing more", run_id=run.run_id, state=run.state,
    )  # fmt: skip


def refuse_resume(store: RunStore, run: RunRecord) -> None:
    """A run with a pending cancel request is ended by `cancel`, never resumed."""
    request = pending(store, run)
    if request is not None:
        raise RunNotResumable(
            f"run {run.run_id}: {request.actor} asked to cancel it at "
            f"{utc_text(request.requested_at)}: `tradefsm cancel {run.run_id}` completes that",
            run_id=run.run_id, state=run.state,
        )  # fmt: skip
