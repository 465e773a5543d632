"""PostgreSQL: TRUNCATE and replica sessions refused; a disabled or replaced trigger, row-level
security and shadow tables in another schema reported."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from fsm.errors import StorageError
from persistence import append_only, migrate, partitions
from persistence.defences import defence_findings
from persistence.engine import make_engine
from persistence.errors import translate_errors
from persistence.store import SqlRunStore
from tests.contract.test_run_store import _new_run
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres
HISTORY = append_only.TABLES


@pytest.fixture(scope="module")
def engine(pg_cluster: PostgresCluster) -> Engine:
    engine = make_engine(pg_cluster.new_database())  # the cluster's superuser
    migrate.upgrade(engine)
    _new_run(SqlRunStore(engine))
    return engine


def _sql(engine: Engine, *statements: str) -> None:
    with translate_errors(), engine.begin() as conn:
        for statement in "; ".join(statements).split("; "):
            conn.execute(text(statement))


def _problems(engine: Engine) -> dict[str | None, str]:
    return {f.key: f.problem for f in defence_findings(engine)}


@pytest.mark.parametrize("table", HISTORY)
def test_truncate_is_refused(engine: Engine, table: str) -> None:
    with pytest.raises(StorageError, match=f"{table} is append-only: TRUNCATE refused"):
        _sql(engine, f"TRUNCATE {table} CASCADE")


def test_a_superuser_in_replica_mode_is_refused_too(engine: Engine) -> None:
    for change in ("UPDATE ledger SET actor = 'mallory'", "DELETE FROM ledger"):
        with pytest.raises(StorageError, match="append-only"):
            _sql(engine, "SET LOCAL session_replication_role = replica", change)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar_one() == 1


WEAKENINGS = [
    ("ALTER TABLE ledger DISABLE TRIGGER USER", "ledger.ledger_append_only_update",
     "append-only trigger disabled", "; ".join(
         f"ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_append_only_{operation}"
         for operation in ("update", "delete", "truncate"))
     + "; ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_scheme_forward"),
    ("ALTER TABLE intent_events ENABLE TRIGGER intent_events_append_only_delete",
     "intent_events.intent_events_append_only_delete",
     "append-only trigger not ENABLE ALWAYS (a replica session skips it)",
     "ALTER TABLE intent_events ENABLE ALWAYS TRIGGER intent_events_append_only_delete"),
    ("DROP TRIGGER digests_append_only_truncate ON digests",
     "digests.digests_append_only_truncate", "append-only trigger missing: the table's rows "
     "can be changed or removed", "CREATE TRIGGER digests_append_only_truncate BEFORE TRUNCATE "
     "ON digests FOR EACH STATEMENT EXECUTE FUNCTION tradefsm_refuse_change(); ALTER TABLE "
     "digests ENABLE ALWAYS TRIGGER digests_append_only_truncate"),
    ("ALTER TABLE runs ENABLE ROW LEVEL SECURITY; CREATE POLICY hide ON runs USING "
     "(account_id <> 'acct')", "runs", "row-level security enabled, 1 policy: some sessions "
     "may see fewer rows than the table holds",
     "DROP POLICY hide ON runs; ALTER TABLE runs DISABLE ROW LEVEL SECURITY"),
    ("CREATE SCHEMA frozen; CREATE TABLE frozen.ledger AS TABLE public.ledger",
     "frozen.ledger", "a copy of public.ledger in schema frozen: a session with another "
     "search_path reads it instead", "DROP SCHEMA frozen CASCADE"),
]  # fmt: skip


IDS = ["disabled", "not-always", "no-truncate", "rls", "shadow"]


@pytest.mark.parametrize(("weaken", "key", "problem", "undo"), WEAKENINGS, ids=IDS)
def test_each_weakening_is_reported(
    engine: Engine, weaken: str, key: str, problem: str, undo: str
) -> None:
    _sql(engine, weaken)
    try:
        assert _problems(engine)[key] == problem
    finally:
        _sql(engine, undo)
    assert defence_findings(engine) == []


def test_a_replaced_function_is_reported_on_every_trigger(engine: Engine) -> None:
    _sql(engine, "CREATE OR REPLACE FUNCTION tradefsm_refuse_change() RETURNS trigger AS "
         "$$BEGIN RETURN COALESCE(NEW, OLD);END$$ LANGUAGE plpgsql")  # fmt: skip
    try:
        problems = _problems(engine)
        # the DELETE triggers of a run's history call the function that lets archived runs go;
        # each month partition of those tables holds an UPDATE and a TRUNCATE trigger of its own
        with engine.begin() as conn:
            months = len(partitions.attached(conn))
        assert months >= 5 * len(partitions.PARTITIONED)  # last month, this one and 3 ahead
        assert len(problems) == 3 * len(HISTORY) - len(append_only.ARCHIVABLE) + 2 * months
        replaced = "the function tradefsm_refuse_change() it calls was replaced"
        assert {p.split(":")[0] for p in problems.values()} == {replaced}
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(append_only.PG_FUNCTION)
    assert defence_findings(engine) == []


def test_a_replaced_archived_delete_function_is_reported(engine: Engine) -> None:
    function = append_only.ARCHIVED_FUNCTION
    _sql(engine, f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS "
         "$$BEGIN RETURN OLD;END$$ LANGUAGE plpgsql")  # fmt: skip
    try:
        problems = _problems(engine)
        with engine.begin() as conn:
            months = partitions.attached(conn)
        tables = [*append_only.ARCHIVABLE, *months]  # each month partition's clone too
        parent = {t: months[t][0] if t in months else t for t in tables}
        assert set(problems) == {f"{t}.{parent[t]}_append_only_delete" for t in tables}
        assert {p.split(":")[0] for p in problems.values()} == {
            f"the function {function}() it calls was replaced"}  # fmt: skip
    finally:
        with engine.begin() as conn:
            append_only.allow_archived_deletes(conn)
    assert defence_findings(engine) == []
