"""Retention and legal holds on the run database (docs/change-management.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fsm.compose.stores import writer_engine

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from fsm.holds import HoldHistory
    from persistence.monthdetach import MonthDetach
    from persistence.retention import Applied, Candidate


def retention_plan(db: str | None, older_than: str) -> list[Candidate]:
    """The finished runs that ended ``older_than`` ago (6y, 90d) or earlier, each with the
    hold that keeps it, if one does."""
    from fsm.clock import SystemClock
    from fsm.tombstones import parse_age
    from persistence import retention

    return retention.plan(writer_engine(db), SystemClock().now() - parse_age(older_than))


def archive_runs(
    db: str | None,
    chosen: Sequence[Candidate],
    folder: Path,
    keys: Sequence[Ed25519PublicKey],
    who: tuple[str, str, str],
    now: datetime,
    progress: Callable[[str, str], None],
) -> Applied:
    """Archive each chosen, unheld run to ``folder`` (``persistence.retention.apply``)."""
    from persistence import retention

    return retention.apply(writer_engine(db), chosen, folder, keys, who, now, progress)


def hold_history(db: str | None) -> HoldHistory:
    """The legal holds history of the run database."""
    from persistence.retention import SqlHolds

    return SqlHolds(writer_engine(db))


def detach_month(db: str | None, month: str, *, apply: bool) -> MonthDetach:
    """`retention detach`: check a month's partitions (YYYY-MM) and, with ``apply``, detach
    and drop them once every row in them is of an archived, unheld run (PostgreSQL)."""
    from persistence import monthdetach, partitions

    return monthdetach.detach(writer_engine(db), partitions.Month.parse(month), apply=apply)
