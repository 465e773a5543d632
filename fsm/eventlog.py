"""The event log port: committed ledger rows in one global order, and subscribers' cursors
(fsm.events maps the rows to events; persistence.events is the SQL adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fsm.records import LedgerEntry


@dataclass(frozen=True, order=True)
class Position:
    """A ledger row's place in the global order: ``major`` is its rowid (SQLite) or its
    writing transaction's id (PostgreSQL); ``run_id`` and ``seq`` break ties."""

    major: int
    run_id: str
    seq: int


@dataclass(frozen=True)
class CommittedRow:
    """A committed ledger row as subscribers read it."""

    position: Position
    entry: LedgerEntry
    account_id: str
    previous_process: str | None  # the process that wrote the run's previous row
    previous_event: str | None
    # The checkpoint a row that completed execution committed (an ExecutionReport: each
    # order's final status), for the order events; None for every other row.
    execution: dict[str, Any] | None = None


@dataclass(frozen=True)
class EventQuery:
    """Which rows to read: after ``after`` (from the first when None), of one run or all,
    that occurred at or after ``since`` (any time when None), at most ``limit``."""

    after: Position | None = None
    run_id: str | None = None
    since: datetime | None = None
    limit: int = 500


@dataclass(frozen=True)
class Subscription:
    """A subscriber's delivery state: the last row it acknowledged (None: none yet), the
    failed tries of the next one, when to try again, why the last try failed, and whether
    its tries ran out (``dead``: nothing more is tried until it is revived)."""

    position: Position | None = None
    attempts: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None
    dead: bool = False
    alerts_through: datetime | None = None  # time-based events handed over up to then


class EventLog(Protocol):
    """Committed ledger rows in one global order, and a cursor per subscriber.

    ``rows`` returns rows after ``query.after`` in that order, and only rows no later commit
    can precede: a row committed after a read sits after every row that read returned (on
    PostgreSQL, rows of a transaction still open anywhere in the database are held back until
    it ends). The order is the commit order on SQLite; on PostgreSQL, transactions are ordered
    by their ids, which is the commit order of transactions that did not overlap.
    ``advance`` moves a subscriber's position forward (never back: an older one is ignored)
    and clears its failures; ``failed`` records a failed try, keeping the position;
    ``rewind`` sets the position (None: from the first row) and revives the subscriber.
    """

    def rows(self, query: EventQuery) -> list[CommittedRow]: ...

    def position_of(self, run_id: str, seq: int) -> Position | None:
        """Where the row ``(run_id, seq)`` is, or None when there is no such row."""
        ...

    def subscription(self, subscriber: str) -> Subscription: ...

    def advance(self, subscriber: str, position: Position, now: datetime) -> None: ...

    def failed(self, subscriber: str, failure: Subscription, now: datetime) -> None:
        """Record ``failure``'s attempts, retry_at, last_error and dead (not its position)."""
        ...

    def alerted(self, subscriber: str, through: datetime, now: datetime) -> None:
        """Record that the subscriber took the time-based events due up to ``through``."""
        ...

    def rewind(self, subscriber: str, position: Position | None, now: datetime) -> None: ...
