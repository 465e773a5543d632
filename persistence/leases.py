"""Who drives a run: taking a lease, claiming queued or abandoned runs, letting leases go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from fsm.errors import RunLeased, RunNotResumable
from fsm.records import RunRecord
from persistence.errors import translate_errors
from persistence.halts import halted
from persistence.tables import CLAIMABLE_WHERE, cancel_requests, runs

CLAIM_BATCH = 20


def _unleased(now: datetime) -> ColumnElement[bool]:
    """A queued run no one holds: one an operator is cancelling holds a lease meanwhile."""
    return or_(runs.c.lease_owner.is_(None), runs.c.lease_expires_at <= now)


def claimable_query(
    now: datetime, skip_states: tuple[str, ...] = (), definition_hash: str | None = None
) -> Select[str]:
    """The next runs a claim may take, oldest first: walks ``ix_runs_claimable`` (unfinished
    runs only), never the finished runs, however many the table keeps."""
    return _claimable_statement(skip_states, definition_hash).params(claim_now=now)


@cache  # built once per variant: a worker claims often, and Core reuses its compiled form
def _claimable_statement(skip_states: tuple[str, ...], definition_hash: str | None) -> Select[str]:
    now = bindparam("claim_now", type_=runs.c.lease_expires_at.type)
    other = runs.alias("other")
    account_busy = exists().where(
        other.c.account_id == runs.c.account_id,
        other.c.status == "active",
        other.c.run_id != runs.c.run_id,
    )
    return (
        select(runs.c.run_id)
        .where(
            # Queued and unleased with its account free, or active with an expired lease; put
            # as a conjunction led by the index's own predicate, which SQLite must see verbatim
            # and which gives PostgreSQL's planner a fair estimate of the candidates.
            text(f"runs.{CLAIMABLE_WHERE}"),
            or_(
                runs.c.lease_expires_at <= now,
                and_(runs.c.status == "queued", runs.c.lease_owner.is_(None)),
            ),
            or_(runs.c.status == "active", ~account_busy),
            runs.c.state.not_in(skip_states),
            ~exists().where(cancel_requests.c.run_id == runs.c.run_id),  # for `cancel`
            ~halted(runs.c.account_id),  # a halted account's runs wait for `unhalt`
            *([] if definition_hash is None else [runs.c.definition_hash == definition_hash]),
        )
        .order_by(runs.c.created_at, runs.c.run_id)
        .limit(CLAIM_BATCH)
    )


class Leases:
    """The lease part of the SQL run store (``SqlRunStore`` is one): a run is driven by at
    most one live lease holder; claims skip rows another claimer holds."""

    engine: Engine

    def get_run(self, run_id: str) -> RunRecord:
        raise NotImplementedError  # the store reads runs

    def acquire_lease(
        self,
        run_id: str,
        owner: str,
        expires_at: datetime,
        now: datetime,
        takeover_from: str | None,
    ) -> RunRecord:
        holders = [owner] + ([takeover_from] if takeover_from else [])
        stmt = (
            update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.status.in_(("active", "queued")),
                or_(
                    runs.c.lease_owner.is_(None),
                    runs.c.lease_owner.in_(holders),
                    runs.c.lease_expires_at <= now,
                ),
            )
            .values(lease_owner=owner, lease_expires_at=expires_at)
        )
        with translate_errors(run_id), self.engine.begin() as conn:
            taken = conn.execute(stmt).rowcount == 1
        run = self.get_run(run_id)
        if taken:
            return run
        if run.status.value not in ("active", "queued"):
            raise RunNotResumable(
                f"run {run_id} already ended {run.state}; there is nothing to resume",
                run_id=run_id,
                state=run.state,
            )
        raise RunLeased(
            f"run {run_id} is held by a live lease of {run.lease_owner} until "
            f"{run.lease_expires_at}; another process is driving it",
            run_id=run_id,
            state=run.state,
        )

    def claim_next(
        self,
        owner: str,
        expires_at: datetime,
        now: datetime,
        deadline_at: datetime,
        skip_states: tuple[str, ...] = (),
        definition_hash: str | None = None,
        accept: Callable[[RunRecord], bool] | None = None,
    ) -> RunRecord | None:
        with translate_errors():
            for run_id in self._claimable(now, skip_states, definition_hash):
                if accept is not None and not accept(self.get_run(run_id)):
                    continue  # committed to plugins the claimer has not: left as it is
                if self._claim(run_id, owner, expires_at, now, deadline_at):
                    return self.get_run(run_id)
        return None

    def _claimable(
        self, now: datetime, skip_states: tuple[str, ...], definition_hash: str | None
    ) -> list[str]:
        query = _claimable_statement(skip_states, definition_hash)
        with self.engine.connect() as conn:
            return list(conn.execute(query, {"claim_now": now}).scalars())

    def _claim(
        self, run_id: str, owner: str, expires_at: datetime, now: datetime, deadline_at: datetime
    ) -> bool:
        """Take one candidate if it is still claimable; rows another claimer locks are skipped."""
        claimable = or_(
            and_(runs.c.status == "queued", _unleased(now)),
            and_(runs.c.status == "active", runs.c.lease_expires_at <= now),
        )
        locked = select(runs.c.run_id).where(runs.c.run_id == run_id, claimable)
        if self.engine.dialect.name == "postgresql":
            locked = locked.with_for_update(skip_locked=True)
        take = (
            update(runs)
            .where(runs.c.run_id == run_id, claimable)
            .values(
                status="active", lease_owner=owner, lease_expires_at=expires_at,
                deadline_at=func.coalesce(runs.c.deadline_at, deadline_at),
            )
        )  # fmt: skip
        try:
            with self.engine.begin() as conn:
                if conn.execute(locked).first() is None:
                    return False  # taken by another claimer, or locked by one right now
                return conn.execute(take).rowcount == 1
        except IntegrityError:  # the account got an active run meanwhile: leave it queued
            return False

    def release_leases(self, owner: str, now: datetime) -> None:
        stmt = (
            update(runs)
            .where(runs.c.lease_owner == owner, runs.c.status.in_(("active", "queued")))
            .values(lease_expires_at=now)
        )
        with translate_errors(), self.engine.begin() as conn:
            conn.execute(stmt)
