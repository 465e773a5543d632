"""A ``RunFilter`` as SQL conditions on the ``runs`` table (``runs list`` and the console)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Dialect, or_, select

from fsm.kinds import RunStatus
from fsm.ports import RunFilter, guard_mentions
from persistence.dialects import starts_with
from persistence.tables import ledger, runs


def run_conditions(query: RunFilter, dialect: Dialect) -> list[ColumnElement[bool]]:
    conditions = [
        column == value
        for column, value in (
            (runs.c.account_id, query.account_id),
            (runs.c.state, query.state),
            (runs.c.status, query.status),
            (runs.c.mode, query.mode),
            (runs.c.parent_run_id, query.retry_of),
        )
        if value is not None
    ]
    if query.since is not None:
        conditions.append(runs.c.created_at >= query.since)
    if query.until is not None:
        conditions.append(runs.c.created_at < query.until)
    if query.search is not None:
        conditions.append(or_(starts_with(dialect, runs.c.run_id, query.search),
                              runs.c.correlation_id == query.search))  # fmt: skip
    if query.stranded_from is not None:  # unfinished, pinned to another definition
        conditions += [runs.c.status.in_(("active", "queued")),
                       runs.c.definition_hash != query.stranded_from]  # fmt: skip
    if query.requested_by is not None:  # the first row's actor (the ledger's actor index)
        first = select(ledger.c.run_id).where(ledger.c.actor == query.requested_by,
                                              ledger.c.seq == 1)  # fmt: skip
        conditions.append(runs.c.run_id.in_(first))
    return conditions + _failure_conditions(query)


def _failure_conditions(query: RunFilter) -> list[ColumnElement[bool]]:
    if query.failure_type is None and query.guard is None:
        return []
    # Only a failed run has a failure (status index).
    conditions = [runs.c.status == RunStatus.FAILED.value]
    if query.failure_type is not None:
        conditions.append(runs.c.failure["error_type"].as_string() == query.failure_type)
    if query.guard is not None:
        message = runs.c.failure["message"].as_string()
        conditions.append(or_(*(message.contains(text, autoescape=True)
                                for text in guard_mentions(query.guard))))  # fmt: skip
    return conditions


def between(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    """``since <= column < until``, each bound only when given."""
    return [
        *([column >= since] if since is not None else []),
        *([column < until] if until is not None else []),
    ]
