"""Revision 0018 on PostgreSQL: the tables of ``persistence.partitions.PARTITIONED`` turned
into month-partitioned tables and back.

Each table is renamed aside, created again (same columns and defaults) partitioned by its time
column, given a partition for every month its rows fall in and for the months ``ensure``
wants, filled from the old table, which is then dropped; its primary key (with the partition
key appended: PostgreSQL demands it), foreign keys, indexes, triggers and table privileges are
made again. ``checkpoints`` gains ``recorded_at`` on the way: its ledger row's ``occurred_at``.
The downgrade makes plain tables again with the keys of revision 0017.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import AddConstraint, CreateIndex

from persistence import append_only, constraints, partitions
from persistence.tables import metadata

ASIDE = "{}_aside"
RECORDED_AT = (
    "SELECT c.*, COALESCE(l.occurred_at, r.created_at) FROM {old} c "
    "LEFT JOIN ledger l ON l.run_id = c.run_id AND l.seq = c.seq "
    "LEFT JOIN runs r ON r.run_id = c.run_id"
)
_MONTHS = "SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC') FROM {table}"
_GRANTS = text("""
SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
       ELSE quote_ident(pg_get_userbyid(a.grantee)) END
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.oid = to_regclass(:table) AND a.grantee <> c.relowner
""")


def partition(conn: Connection, today: date) -> None:
    """Revision 0018's upgrade on PostgreSQL."""
    months = sorted(_months_of(conn) | set(partitions.wanted(today)))
    for name in partitions.PARTITIONED:
        _rebuild(conn, name, partitioned=True)
        for month in months:
            partitions.create(conn, name, month, armed=False)
        _copy(conn, name, partitioned=True)
    _defences(conn)  # after the copy: the scheme trigger would refuse legacy rows
    for name, (parent, _) in partitions.attached(conn).items():
        partitions.arm(conn, parent, name)


def _months_of(conn: Connection) -> set[partitions.Month]:
    """The months of every stored row (a checkpoint's is its ledger row's, or else its run's)."""
    months: set[partitions.Month] = set()
    times = {**partitions.PARTITIONED, "runs": "created_at"}
    for table, column in times.items():
        if table != "checkpoints":
            sql = _MONTHS.format(column=column, table=table)
            months |= {partitions.Month.of(at) for at in conn.exec_driver_sql(sql).scalars()}
    return months


def unpartition(conn: Connection) -> None:
    """Revision 0018's downgrade on PostgreSQL: plain tables with the 0017 keys."""
    for name in partitions.PARTITIONED:
        _rebuild(conn, name, partitioned=False)
        _copy(conn, name, partitioned=False)
    conn.exec_driver_sql("ALTER TABLE checkpoints DROP COLUMN recorded_at")
    _defences(conn)


def _rebuild(conn: Connection, name: str, *, partitioned: bool) -> None:
    """``name`` set aside, and an empty table of its columns in its place."""
    old = ASIDE.format(name)
    grants = conn.execute(_GRANTS, {"table": name}).all()
    conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {old}")
    columns = [f"LIKE {old} INCLUDING DEFAULTS"]
    if partitioned and name == "checkpoints":
        columns.append("recorded_at timestamp with time zone NOT NULL")
    by = f" PARTITION BY RANGE ({partitions.PARTITIONED[name]})" if partitioned else ""
    conn.exec_driver_sql(f"CREATE TABLE {name} ({', '.join(columns)}){by}")
    for privilege, grantee in grants:
        conn.exec_driver_sql(f"GRANT {privilege} ON {name} TO {grantee}")


def _copy(conn: Connection, name: str, *, partitioned: bool) -> None:
    """The rows of the table set aside into ``name``, then its keys (once the old table and
    its names are gone)."""
    old = ASIDE.format(name)
    recorded = partitioned and name == "checkpoints"
    rows = RECORDED_AT.format(old=old) if recorded else f"SELECT * FROM {old}"
    conn.exec_driver_sql(f"INSERT INTO {name} {rows}")
    conn.exec_driver_sql(f"DROP TABLE {old}")  # its partitions with it
    _keys(conn, metadata.tables[name], partitioned=partitioned)


def _keys(conn: Connection, table: Table, *, partitioned: bool) -> None:
    """Primary key (with the partition key when ``partitioned``), foreign keys and indexes,
    under the names the naming convention gives them."""
    key = [c.name for c in table.primary_key.columns]
    if partitioned:
        key.append(partitions.PARTITIONED[table.name])
    conn.exec_driver_sql(
        f"ALTER TABLE {table.name} ADD CONSTRAINT {table.primary_key.name} "
        f"PRIMARY KEY ({', '.join(key)})"
    )
    for foreign in sorted(table.foreign_key_constraints, key=lambda f: str(f.name)):
        conn.execute(AddConstraint(foreign))
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        conn.execute(CreateIndex(index))


def _defences(conn: Connection) -> None:
    """The append-only and refusing triggers of the rebuilt tables, as revision 0017 had."""
    tables = list(partitions.PARTITIONED)
    append_only.create(conn, tables)
    append_only.harden(conn, tables)
    append_only.allow_archived_deletes(conn)
    constraints.drop(conn)
    constraints.create(conn)
