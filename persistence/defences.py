"""The database's own defences, as a database at the head revision must hold them.

Reported by `db check` and `audit verify`: an append-only trigger missing, disabled, not
``ENABLE ALWAYS``, altered, or its function replaced; a trigger tradefsm did not create on one
of its tables; row-level security or a policy on a tradefsm table (it can show an auditor
fewer rows than there are); a tradefsm table resolved outside the schema ``public``, or a
table or view of the same name in another schema (a session with another ``search_path``,
e.g. a person's ``psql``, would read it instead). The expected triggers come from
``persistence.append_only``, which the migrations use to create them. On PostgreSQL each month
partition (persistence.partitions, found through pg_inherits) is held to its parent's
triggers (the row ones cloned, its own TRUNCATE one) and to the same row-level security check.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, text

from fsm.audit import Finding
from persistence import append_only, constraints, partitions
from persistence.engine import SCHEMA
from persistence.errors import translate_errors
from persistence.tables import metadata

ENABLED = {"A": None, "O": "not ENABLE ALWAYS (a replica session skips it)",
           "D": "disabled", "R": "fires in replica sessions only"}  # fmt: skip

_PG_TRIGGERS = text("""
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, p.proname, p.prosrc,
       l.lanname
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = :schema AND NOT t.tgisinternal AND c.relname IN :tables
""").bindparams(bindparam("tables", expanding=True))
_PG_SECURITY = text("""
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relname IN :tables
""").bindparams(bindparam("tables", expanding=True))
_PG_ELSEWHERE = text("""
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname IN :tables AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND n.nspname <> :schema AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY 1, 2
""").bindparams(bindparam("tables", expanding=True))
_PG_RESOLVED = text(
    "SELECT current_schema(), "
    "(SELECT string_agg(DISTINCT n.nspname, ', ') FROM unnest(CAST(:tables AS text[])) "
    "AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name) "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname <> :schema)"
)
_SQLITE_TRIGGERS = text("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")


def defence_findings(engine: Engine) -> list[Finding]:
    """Every weakened defence of the database (an empty list: as the migrations made them)."""
    with translate_errors(), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            problems = _pg_triggers(conn) + _pg_security(conn) + _pg_schema(conn)
        else:
            problems = _sqlite_triggers(conn)
    return [Finding("defence_weakened", None, problem, key=key) for key, problem in problems]


Problems = list[tuple[str, str]]


Months = dict[str, str]  # each month partition → its parent table (PostgreSQL)


def _tables(months: Months | None = None) -> list[str]:
    return sorted([*metadata.tables, *(months or {})])


def _expected(dialect: str, months: Months | None = None) -> dict[tuple[str, str], str]:
    """Every trigger, a month partition's as its parent's (cloned, or its own TRUNCATE one)."""
    ours = append_only.expected(dialect) | constraints.expected(dialect)
    out = dict(ours)
    for partition, parent in (months or {}).items():
        on, to = f" ON {parent} ", f" ON {partition} "
        out |= {(partition, name): sql.replace(on, to)
                for (table, name), sql in ours.items() if table == parent}  # fmt: skip
    return out


def _kind(key: tuple[str, str]) -> str:
    return "refusing" if key[1] in _REFUSING else "append-only"


_REFUSING = {name for _, name in constraints.expected("postgresql")}


def _missing(key: tuple[str, str]) -> str:
    if _kind(key) == "refusing":
        return "refusing trigger missing: the table takes rows tradefsm never writes"
    return "append-only trigger missing: the table's rows can be changed or removed"


def _triggers(
    found: dict[tuple[str, str], str], dialect: str, months: Months | None = None
) -> Problems:
    """Missing, altered and unexpected triggers, by (table, name) → definition."""
    expected = _expected(dialect, months)
    problems = [(f"{t}.{n}", _missing((t, n))) for t, n in expected if (t, n) not in found]
    for (table, name), definition in sorted(found.items()):
        wanted = expected.get((table, name))
        if wanted is None:
            problems.append((f"{table}.{name}", f"a trigger tradefsm did not create: {definition}"))
        elif definition != wanted:
            problems.append(
                (f"{table}.{name}", f"{_kind((table, name))} trigger altered: {definition}")
            )
    return problems  # fmt: skip


def _sqlite_triggers(conn: Connection) -> Problems:
    found = {(t, name): sql for t, name, sql in conn.execute(_SQLITE_TRIGGERS)}
    return _triggers(found, "sqlite")


def _months(conn: Connection) -> Months:
    return {name: parent for name, (parent, _) in partitions.attached(conn).items()}


def _pg_triggers(conn: Connection) -> Problems:
    months = _months(conn)
    rows = conn.execute(_PG_TRIGGERS, {"schema": SCHEMA, "tables": _tables(months)}).all()
    found = {(t, name): d.replace(f" {SCHEMA}.", " ") for t, name, d, *_ in rows}
    problems = _triggers(found, "postgresql", months)
    bodies = append_only.functions() | constraints.functions()
    for table, name, _, enabled, function, source, language in rows:
        if (months.get(table, table), name) not in bodies:
            continue
        state = ENABLED.get(enabled, "in an unknown state")
        if state is not None:
            problems.append((f"{table}.{name}", f"{_kind((table, name))} trigger {state}"))
        wanted_function, wanted_body = bodies[months.get(table, table), name]
        if (function, language, source) != (wanted_function, "plpgsql", wanted_body):
            problems.append((f"{table}.{name}", f"the function {function}() it calls was "
                             "replaced: it may no longer refuse the change"))  # fmt: skip
    return problems


def _pg_security(conn: Connection) -> Problems:
    problems = []
    rows = conn.execute(_PG_SECURITY, {"schema": SCHEMA, "tables": _tables(_months(conn))})
    for table, enabled, forced, policies in rows:
        if enabled or forced or policies:
            state = "forced" if forced else "enabled" if enabled else "off"
            count = "1 policy" if policies == 1 else f"{policies} policies"
            problems.append((table, f"row-level security {state}, {count}: some sessions may "
                             "see fewer rows than the table holds"))  # fmt: skip
    return problems


def _pg_schema(conn: Connection) -> Problems:
    params = {"schema": SCHEMA, "tables": _tables()}
    current, elsewhere = conn.execute(_PG_RESOLVED, params).one()
    problems = []
    if current != SCHEMA or elsewhere:
        problems.append(("search_path", f"tables resolved in schema {elsewhere or current}, "
                         f"not {SCHEMA}"))  # fmt: skip
    for schema, table in conn.execute(_PG_ELSEWHERE, params):
        problems.append((f"{schema}.{table}", f"a copy of {SCHEMA}.{table} in schema {schema}: "
                         "a session with another search_path reads it instead"))  # fmt: skip
    return problems
