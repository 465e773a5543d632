"""The database's own defences: what the triggers refuse, and each weakening made visible."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from persistence import append_only, partitions
from persistence.defences import defence_findings
from persistence.engine import make_engine
from persistence.errors import translate_errors
from persistence.store import SqlRunStore
from tests.contract.test_run_store import _new_run


@pytest.fixture
def engine(migrated_url: str) -> Engine:
    engine = make_engine(migrated_url)
    _new_run(SqlRunStore(engine))
    return engine


def _sql(engine: Engine, *statements: str) -> None:
    with translate_errors(), engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _weakened(engine: Engine) -> set[tuple[str | None, str]]:
    return {(f.key, f.problem.split(":")[0]) for f in defence_findings(engine)}


def test_a_migrated_database_keeps_every_defence(engine: Engine) -> None:
    assert defence_findings(engine) == []


def test_a_dropped_trigger_is_reported(engine: Engine) -> None:
    with engine.begin() as conn:
        append_only.drop(conn, ["ledger"])
    # PostgreSQL: the trigger of every month partition of the ledger (its clone) went with it
    tables = ["ledger", *_months(engine, "ledger")]
    assert _weakened(engine) == {
        (f"{table}.ledger_append_only_{operation}", "append-only trigger missing")
        for table in tables for operation in ("update", "delete")
    }  # fmt: skip


def _months(engine: Engine, parent: str) -> list[str]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        return [name for name, (table, _) in partitions.attached(conn).items() if table == parent]


def test_a_trigger_of_another_body_is_reported(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        _sql(engine, "DROP TRIGGER ledger_append_only_update ON ledger",
             "CREATE TRIGGER ledger_append_only_update AFTER UPDATE ON ledger "
             "FOR EACH ROW EXECUTE FUNCTION tradefsm_refuse_change()",
             "ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_append_only_update")  # fmt: skip
    else:
        _sql(engine, "DROP TRIGGER ledger_append_only_update",
             "CREATE TRIGGER ledger_append_only_update BEFORE UPDATE ON ledger BEGIN "
             "SELECT 1; END")  # fmt: skip
    _sql(engine, "CREATE TRIGGER checkpoints_extra BEFORE INSERT ON checkpoints "
         + ("FOR EACH ROW EXECUTE FUNCTION tradefsm_refuse_change()"
            if engine.dialect.name == "postgresql" else "BEGIN SELECT 1; END"))  # fmt: skip
    assert _weakened(engine) == {  # and on each month partition (PostgreSQL clones them)
        *((f"{t}.ledger_append_only_update", "append-only trigger altered")
          for t in ["ledger", *_months(engine, "ledger")]),
        *((f"{t}.checkpoints_extra", "a trigger tradefsm did not create")
          for t in ["checkpoints", *_months(engine, "checkpoints")]),
    }  # fmt: skip
