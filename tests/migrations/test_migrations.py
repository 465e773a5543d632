"""Migrations as behaviour, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from fsm.errors import SchemaNotCurrent, StorageError
from persistence import migrate
from persistence.defences import defence_findings
from persistence.engine import make_engine
from persistence.errors import translate_errors
from persistence.store import SqlRunStore
from tests.contract.test_run_store import _new_run


def test_upgrade_from_empty_reaches_head_with_no_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(SchemaNotCurrent, match="tradefsm db upgrade"):
        migrate.ensure_current(engine)
    migrate.upgrade(engine)
    assert migrate.current_revisions(engine) == migrate.head_revisions(engine)
    assert migrate.drift(engine) == []
    migrate.ensure_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"runs", "ledger", "checkpoints", "order_intents", "definitions"} <= tables


def test_upgrade_twice_is_a_no_op(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    before = migrate.current_revisions(engine)
    migrate.upgrade(engine)
    assert migrate.current_revisions(engine) == before


def test_single_head() -> None:
    assert len(migrate.head_revisions(make_engine("sqlite://"))) == 1


def test_down_and_up_round_trip(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    migrate.downgrade(engine, "base")
    assert migrate.current_revisions(engine) == ()
    assert "runs" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.drift(engine) == []
    assert defence_findings(engine) == []  # the triggers as the head revision leaves them


def test_ledger_rows_cannot_be_updated_or_deleted(migrated_url: str, store_with_run: str) -> None:
    engine = make_engine(migrated_url)
    for statement in ("UPDATE ledger SET event = 'edited'", "DELETE FROM ledger"):
        with pytest.raises(StorageError, match="append-only"):
            _execute(engine, statement)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar_one() == 1


def _execute(engine: Engine, statement: str) -> None:
    with translate_errors(), engine.begin() as conn:
        conn.execute(text(statement))


@pytest.fixture
def store_with_run(migrated_url: str) -> str:
    _new_run(SqlRunStore(make_engine(migrated_url)))
    return "run_1"
