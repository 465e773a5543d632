"""Lease owners: who drives a run, and whether that process is still alive.

An owner id is ``host/pid/token``. On the same host a lease whose process no longer runs is
taken over at once (so ``resume`` right after a crash just works); on another host only after
the lease expired.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fsm.clock import Clock
from fsm.errors import RunLeased
from fsm.ports import RunStore
from fsm.records import RunRecord

log = logging.getLogger(__name__)


def owner_id(token: str) -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{token}"


def owner_is_gone(owner: str | None) -> bool:
    """True when ``owner`` ran on this host and its process has exited."""
    if not owner:
        return False
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return _exited_unreaped(pid)


def _exited_unreaped(pid: int) -> bool:
    """A process that has exited but whose parent has not collected it yet (a zombie, 'Z'
    in Linux's /proc) runs no more code; elsewhere it counts as alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def unattended(run: RunRecord, now: datetime) -> bool:
    """No live process drives ``run``: its lease expired, or its process on this host is gone."""
    expires = run.lease_expires_at
    return expires is None or expires <= now or owner_is_gone(run.lease_owner)


def fence_out_holder(
    store: RunStore,
    run: RunRecord,
    owner: str,
    clock: Clock,
    lease_seconds: float,
    wait_seconds: float,
    sleep: Callable[[float], None],
) -> RunRecord:
    """Take ``run`` from the live process that holds it, then wait until that process can no
    longer be sending an order: its process is gone (same host) or its lease has run out.

    Taking the lease fences the holder out: every order is sent only after a renewal of the
    holder's own lease, which now fails, so it sends nothing new. An order it had already
    started has until the holder exits or its lease ends to reach the broker, so what follows
    (reconciling with the broker) sees it — unless one broker call outlasts the lease.
    Past ``wait_seconds`` RunLeased says until when to wait; the lease stays taken.
    """
    holder, held_until = run.lease_owner, run.lease_expires_at
    now = clock.now()
    expires = max(now + timedelta(seconds=lease_seconds), held_until or now)
    taken = store.acquire_lease(run.run_id, owner, expires, now, holder)
    log.info("cancel_waits_for_holder", extra={"run_id": run.run_id, "holder": holder})
    give_up = time.monotonic() + wait_seconds
    while not owner_is_gone(holder) and (held_until is None or clock.now() < held_until):
        if time.monotonic() >= give_up:
            raise RunLeased(
                f"run {run.run_id} was driven by {holder}, which now sends nothing more but "
                f"may still be waiting on the broker until {held_until}; nothing was cancelled "
                f"yet: cancel again after that (or with a longer --wait)",
                run_id=run.run_id, state=run.state,
            )  # fmt: skip
        sleep(0.05)
    return taken
