"""`tradefsm retention detach`: a month's partitions given back whole (PostgreSQL only).

`retention apply` deletes an archived run's rows (leaving dead rows that only VACUUM FULL
would return to the system); once every row left in a month's partitions belongs to a run
that has a tombstone and is under no legal hold, detaching and dropping those partitions
returns their space at once. Anything else in the month refuses the detach and nothing
changes. DETACH fires no trigger: the append-only tables cannot refuse it. Only the tables'
owner can run it (the runtime role has no DDL, persistence.grants); an owner who detaches
by hand a month holding live runs is found by the next `audit verify` (their history is gone
without a tombstone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from fsm import holds
from fsm.errors import DetachRefused, InvalidInput
from persistence import partitions
from persistence.errors import translate_errors
from persistence.retentionlog import hold_rows
from persistence.tables import runs, tombstones

_LOCKS = "LOCK TABLE holds, tombstones IN SHARE ROW EXCLUSIVE MODE"


@dataclass(frozen=True)
class MonthDetach:
    """What `retention detach` found in (and did with) one month's partitions."""

    month: str
    partitions: list[str]
    rows: int  # rows left in them (all of archived runs when the month may go)
    runs: int
    detached: bool
    blocking: dict[str, str] = field(default_factory=dict)  # run_id → why it keeps the month

    def as_json(self) -> dict[str, Any]:
        names = ("month", "partitions", "rows", "runs", "detached", "blocking")
        return {name: getattr(self, name) for name in names}


def detach(engine: Engine, month: partitions.Month, *, apply: bool) -> MonthDetach:
    """Check ``month``'s partitions and, with ``apply``, detach and drop them; DetachRefused
    (nothing changed) when one row belongs to a run not archived or held."""
    if engine.dialect.name != "postgresql":
        raise InvalidInput(
            "retention detach needs PostgreSQL: SQLite keeps no month partitions "
            "(`tradefsm retention apply` removes archived runs)"
        )
    with translate_errors(), engine.begin() as conn:
        found = partitions.attached(conn)
        names = [partitions.partition_name(t, month) for t in partitions.PARTITIONED]
        present = [name for name in names if name in found]
        if apply and present:  # no row, hold or tombstone slips in before the detach
            conn.exec_driver_sql(f"LOCK TABLE {', '.join(present)} IN SHARE MODE")
            conn.exec_driver_sql(_LOCKS)
        rows, owners = _owners(conn, present)
        blocking = _blocking(conn, owners)
        result = MonthDetach(str(month), present, rows, len(owners), False, blocking)
        if blocking and apply:
            run_id, why = sorted(blocking.items())[0]
            raise DetachRefused(f"month {month} not detached: run {run_id} {why} "
                                f"({len(blocking)} run(s) keep it); nothing changed")  # fmt: skip
        if not apply or not present:
            return result
        for name in present:
            conn.exec_driver_sql(f"ALTER TABLE {found[name][0]} DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")
    return MonthDetach(str(month), present, rows, len(owners), True)


def _owners(conn: Connection, names: list[str]) -> tuple[int, set[str]]:
    """The rows in ``names`` and the runs they belong to."""
    if not names:
        return 0, set()
    union = " UNION ALL ".join(f"SELECT run_id FROM {name}" for name in names)
    counted = conn.exec_driver_sql(
        f"SELECT run_id, count(*) FROM ({union}) AS month_rows GROUP BY run_id"
    ).all()
    return sum(n for _, n in counted), {run_id for run_id, _ in counted}


def _blocking(conn: Connection, owners: set[str]) -> dict[str, str]:
    """Each run of ``owners`` that keeps the month, and why."""
    if not owners:
        return {}
    tombstoned = select(tombstones.c.run_id).where(tombstones.c.run_id.in_(owners))
    archived = set(conn.execute(tombstoned).scalars())
    of_runs = select(runs.c.run_id, runs.c.account_id).where(runs.c.run_id.in_(owners))
    accounts: dict[str, str] = dict(conn.execute(of_runs).all())
    held_runs, held_accounts = holds.in_force(hold_rows(conn))
    out = {}
    for run_id in sorted(owners):
        if run_id not in archived:
            out[run_id] = "is not archived (no tombstone: `tradefsm retention apply` first)"
        elif run_id in held_runs or accounts.get(run_id) in held_accounts:
            out[run_id] = "is under legal hold"
    return out
