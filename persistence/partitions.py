"""Month partitions of the ledger and its side tables on PostgreSQL (revision 0018).

Each table in ``PARTITIONED`` is range-partitioned by the time of its own row, one partition
per calendar month (UTC) named ``<table>_yYYYYmMM``; there is no DEFAULT partition, so a month
is always created empty and can be detached whole (persistence.monthdetach). ``ensure``
creates the missing months from the previous one to ``months_ahead`` after the current one,
each with its own TRUNCATE trigger (a statement trigger of the parent does not fire for a
TRUNCATE of the partition); the row triggers of the parent are cloned by PostgreSQL, and are
marked ``ENABLE ALWAYS`` here too. Only the tables' owner can create (or detach) a partition:
the runtime role has no DDL (persistence.grants). SQLite has no partitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, bindparam, text

from fsm.audit import Finding
from fsm.errors import InvalidInput
from persistence import append_only, constraints
from persistence.engine import SCHEMA
from persistence.errors import translate_errors

# Each partitioned table → the column of its rows' time, its partition key.
PARTITIONED = {"ledger": "occurred_at", "checkpoints": "recorded_at",
               "step_attempts": "started_at", "intent_events": "recorded_at",
               "cancel_requests": "requested_at"}  # fmt: skip
DEFAULT_MONTHS_AHEAD = 3
ENSURE_COMMAND = "tradefsm db partitions ensure"
NAME = re.compile(r"(?P<table>[a-z_]+)_y(?P<year>\d{4})m(?P<month>\d{2})")
_ATTACHED = text("""
SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid)
FROM pg_inherits i JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = :schema AND parent.relname IN :tables
ORDER BY 1, 2
""").bindparams(bindparam("tables", expanding=True))
_TABLES = text("""
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
""")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (UTC)."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, value: str) -> Month:
        """``YYYY-MM``; anything else is refused with the form to use."""
        found = re.fullmatch(r"(\d{4})-(\d{2})", value)
        if found is None or not 1 <= int(found[2]) <= 12:
            raise InvalidInput(f"month {value!r}: give it as YYYY-MM, e.g. 2026-11")
        return cls(int(found[1]), int(found[2]))

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def partition_name(table: str, month: Month) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def bound(month: Month) -> str:
    """The partition bound of ``month`` as PostgreSQL prints it in a UTC session (every
    session of persistence.engine is)."""
    end = month.plus(1)
    return (f"FOR VALUES FROM ('{month.start} 00:00:00+00') "
            f"TO ('{end.start} 00:00:00+00')")  # fmt: skip


def attached(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every partition of a ``PARTITIONED`` table: name → (parent, bound as printed)."""
    rows = conn.execute(_ATTACHED, {"schema": SCHEMA, "tables": list(PARTITIONED)})
    return {name: (parent, printed) for parent, name, printed in rows}


def partition_names(engine: Engine) -> set[str]:
    """The attached month partitions (none on SQLite): their columns are their parents', so
    the coverage map reads the parents only."""
    if engine.dialect.name != "postgresql":
        return set()
    with translate_errors(), engine.connect() as conn:
        return set(attached(conn))


def misplaced(conn: Connection) -> list[str]:
    """Tables named like a partition that are not attached to their parent with that month's
    bounds (``db check``'s drift): the partitions themselves are expected tables."""
    found = attached(conn)
    names = conn.execute(_TABLES, {"schema": SCHEMA}).scalars()
    problems = [
        f"{n}: named as a month of {m['table']} but not attached to it"
        for n in names
        if (m := NAME.fullmatch(n)) and m["table"] in PARTITIONED
    ]
    for name, (parent, printed) in found.items():
        month = _month_of(name, parent)
        if month is None or printed != bound(month):
            problems.append(f"{name}: attached to {parent} {printed}, not as its own month")
    return sorted(problems)


def _month_of(name: str, parent: str) -> Month | None:
    found = NAME.fullmatch(name)
    if found is None or found["table"] != parent or not 1 <= int(found["month"]) <= 12:
        return None
    return Month(int(found["year"]), int(found["month"]))


def create(conn: Connection, table: str, month: Month, *, armed: bool = True) -> str:
    """The partition of ``table`` for ``month``, with its triggers unless not ``armed``
    (the migration arms them once the rows are in); its name."""
    name = partition_name(table, month)
    conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {table} {bound(month)}")
    if armed:
        arm(conn, table, name)
    return name


def arm(conn: Connection, table: str, name: str) -> None:
    """Partition ``name`` of ``table``: its TRUNCATE trigger, and every trigger ALWAYS."""
    conn.exec_driver_sql(
        f"CREATE TRIGGER {append_only.trigger_name(table, 'TRUNCATE')} BEFORE TRUNCATE ON "
        f"{name} FOR EACH STATEMENT EXECUTE FUNCTION {append_only.FUNCTION}()"
    )
    for trigger in triggers(table):
        conn.exec_driver_sql(f"ALTER TABLE {name} ENABLE ALWAYS TRIGGER {trigger}")


def triggers(table: str) -> list[str]:
    """The names of the triggers each partition of ``table`` holds (cloned or its own)."""
    keys = append_only.expected("postgresql") | constraints.expected("postgresql")
    return [name for owner, name in keys if owner == table]


def wanted(today: date, months_ahead: int = DEFAULT_MONTHS_AHEAD) -> list[Month]:
    """The months that must exist: the previous one (a clock a little behind at a month's
    turn), the current one and ``months_ahead`` more."""
    if months_ahead < 1:
        raise InvalidInput("--months-ahead: at least 1, so the next month always exists")
    current = Month.of(today)
    return [current.plus(n) for n in range(-1, months_ahead + 1)]


def ensure(engine: Engine, today: date, months_ahead: int = DEFAULT_MONTHS_AHEAD) -> list[str]:
    """Create the missing partitions of ``wanted`` months (as the tables' owner); the names
    created, none on SQLite."""
    if engine.dialect.name != "postgresql":
        return []
    with translate_errors(), engine.begin() as conn:
        return create_missing(conn, wanted(today, months_ahead))


def create_missing(conn: Connection, months: list[Month]) -> list[str]:
    found = attached(conn)
    return [create(conn, table, month) for table in PARTITIONED for month in sorted(months)
            if partition_name(table, month) not in found]  # fmt: skip


def missing_findings(engine: Engine, today: date) -> list[Finding]:
    """``db check``: the current or next month without its partition (an insert then fails)."""
    if engine.dialect.name != "postgresql":
        return []
    with translate_errors(), engine.connect() as conn:
        found = attached(conn)
    current = Month.of(today)
    return [
        Finding("partition_missing", None, f"no partition for {month}: rows of that month "
                f"cannot be written; run `{ENSURE_COMMAND}`", key=partition_name(table, month))
        for month in (current, current.plus(1)) for table in PARTITIONED
        if partition_name(table, month) not in found
    ]  # fmt: skip
