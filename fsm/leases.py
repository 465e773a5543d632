"""Lease owners: who drives a run, and whether that process is still alive.

An owner id is ``host/pid/token``. On the same host a lease whose process no longer runs is
taken over at once (so ``resume`` right after a crash just works); on another host only after
the lease expired.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from fsm.errors import RunAlreadyActive, RunNotFound
from fsm.ports import RunStore
from fsm.records import RunRecord


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


def said_unattended(
    store: RunStore, exc: RunAlreadyActive, now: datetime, parked: Collection[str]
) -> RunAlreadyActive:
    """The active run ``exc`` names, said to be resumable when no process drives it."""
    try:
        active = store.get_run(exc.run_id or "")
    except RunNotFound:  # the clash was an idempotency key, not an active run
        return exc
    if active.state in parked or not unattended(active, now):
        return exc
    run_id = active.run_id
    return RunAlreadyActive(
        f"{exc.message.rpartition('; ')[0] or exc.message}, which no process drives "
        f"(stopped at {active.state}): `tradefsm resume {run_id}` continues it, "
        f"`tradefsm cancel {run_id} --actor NAME --reason TEXT` ends it",
        run_id=run_id, state=active.state,
    )  # fmt: skip


def worth_waiting(
    store: RunStore, exc: BaseException, now: datetime, final: Collection[str]
) -> bool:
    """Whether a new run refused by ``exc`` may be created by trying again: the account's
    active run is driven by a live process, or has ended since the refusal (a race with its
    last commit). An active run no process drives is not worth waiting for."""
    if not isinstance(exc, RunAlreadyActive) or exc.run_id is None:
        return False
    active = store.get_run(exc.run_id)
    return active.state in final or not unattended(active, now)
