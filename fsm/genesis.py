"""A new run as first recorded: its identity (the run row) and its first ledger row,
``None → idle``, which commits that identity and the run's deadline.

Built apart from the engine, which pins the run's policy and plugins, writes both rows in one
transaction and drives the run on.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from fsm.commitments import deadline_decision, identity_digest
from fsm.errors import InvalidInput
from fsm.ids import IdFactory
from fsm.kinds import RunStatus
from fsm.ledger import GENESIS_HASH, seal
from fsm.machines.names import CREATED
from fsm.records import LedgerEntry, RunRecord
from fsm.requests import SPEC_SET_PARAM, RunRequest
from fsm.settings import ACCOUNT_ID_PATTERN, Settings
from fsm.spec import SpecSet


def check_account(account_id: str) -> None:
    """InvalidInput unless ``account_id`` is one a run may name."""
    if not re.fullmatch(ACCOUNT_ID_PATTERN, account_id):
        raise InvalidInput(
            f"account id {account_id!a} is not allowed: letters, digits, '.', '_' "
            "and '-', 1 to 64 characters, starting with a letter or digit"
        )


def first_rows(
    request: RunRequest,
    pinned: dict[str, Any],
    *,
    specs: SpecSet,
    settings: Settings,
    ids: IdFactory,
    now: datetime,
    owner: str,
    queued: bool,
) -> tuple[RunRecord, LedgerEntry]:
    """The run ``request`` asks for, driven by ``specs``, its params with what the engine
    ``pinned`` (policy version, plugins, trace), leased by ``owner`` unless ``queued``; and
    its first ledger row, whose hash the run keeps as its head."""
    identity = _identity(request, pinned, specs, settings, ids, now, owner, queued)
    entry = seal(
        GENESIS_HASH, run_id=identity.run_id, seq=1, event=CREATED, source=None,
        target=identity.state, accepted=True, actor=settings.actor,
        correlation_id=identity.correlation_id,
        causation_id=f"command:{'retry' if request.parent_run_id else 'run'}",
        occurred_at=now, commits={"identity": identity_digest(identity.model_dump())},
        process=owner,
        guards=(deadline_decision(identity.deadline_at),),
    )  # fmt: skip
    return identity.model_copy(update={"head_hash": entry.hash}), entry


def _identity(request: RunRequest, pinned: dict[str, Any], specs: SpecSet, settings: Settings,
              ids: IdFactory, now: datetime, owner: str, queued: bool) -> RunRecord:  # fmt: skip
    run_id = ids.new_id("run")
    lease = now + timedelta(seconds=settings.lease_seconds)
    deadline = now + timedelta(seconds=settings.run_deadline_seconds)
    return RunRecord(
        run_id=run_id,
        correlation_id=request.correlation_id or ids.new_id("corr"),
        idempotency_key=request.idempotency_key,
        account_id=request.account_id,
        mode=request.mode,
        as_of=request.as_of or now.date(),
        state=specs.definition.initial,
        status=RunStatus.QUEUED if queued else RunStatus.ACTIVE,
        version=1,
        parent_run_id=request.parent_run_id,
        definition_hash=specs.definition.definition_hash,
        params=request.params | {SPEC_SET_PARAM: specs.name} | pinned,
        head_hash=GENESIS_HASH,
        created_at=now,
        updated_at=now,
        # A queued run gets its lease and deadline from the worker that claims it.
        lease_owner=None if queued else owner,
        lease_expires_at=None if queued else lease,
        deadline_at=None if queued else deadline,
    )
