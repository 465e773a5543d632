"""The database refuses rows no release of tradefsm writes: a ledger row of the legacy scheme
or of an older scheme than its run's previous row (SQLite and PostgreSQL), and on PostgreSQL an
order intent committed without any event of its history."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError

from fsm.ledger import SCHEME, seal
from persistence import migrate
from persistence.engine import make_engine
from persistence.mapping import ledger_row
from persistence.store import SqlRunStore
from persistence.tables import intent_events, ledger, order_intents
from tests.contract.test_run_store import T0, _new_run
from tests.postgres_cluster import PostgresCluster


def _with_a_run(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    _new_run(SqlRunStore(engine))
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    yield from _with_a_run(db_url)


@pytest.fixture
def pg_engine(pg_cluster: PostgresCluster) -> Iterator[Engine]:
    yield from _with_a_run(pg_cluster.new_database())


def _row(engine: Engine, scheme: int) -> dict[str, Any]:
    head = SqlRunStore(engine).ledger("run_1")[-1]
    entry = seal(head.hash, run_id="run_1", seq=head.seq + 1, event="noted", source="idle",
                 target="idle", accepted=True, actor="ops-dan", correlation_id="corr",
                 causation_id="run_1#1", occurred_at=T0)  # fmt: skip
    return ledger_row(entry) | {"scheme": scheme}


@pytest.mark.parametrize("scheme", [1, SCHEME - 1])
def test_a_row_of_an_older_scheme_is_refused(engine: Engine, scheme: int) -> None:
    row = _row(engine, scheme)
    with pytest.raises(DBAPIError, match="may not go back to an older scheme"), engine.begin() as c:
        c.execute(insert(ledger), [row])
    row = _row(engine, SCHEME)
    with engine.begin() as conn:  # the current scheme goes on
        conn.execute(insert(ledger), [row])
    assert [e.seq for e in SqlRunStore(engine).ledger("run_1")] == [1, 2]


def _intent(order_id: str) -> dict[str, Any]:
    return {"client_order_id": order_id, "run_id": "run_1", "position": 0, "symbol": "TSLA",
            "side": "BUY", "qty": Decimal(500), "reference_price": Decimal(1), "status": "filled",
            "updated_at": T0}  # fmt: skip


@pytest.mark.postgres
def test_an_order_without_history_is_refused_at_commit(pg_engine: Engine) -> None:
    engine = pg_engine
    with pytest.raises(DBAPIError, match="intent tf-phantom has no history"), engine.begin() as c:
        c.execute(insert(order_intents), [_intent("tf-phantom")])
    with engine.begin() as conn:  # with its first event in the same transaction: accepted
        conn.execute(insert(order_intents), [_intent("tf-real")])
        conn.execute(insert(intent_events), [{"client_order_id": "tf-real", "n": 1,
                                              "run_id": "run_1", "status": "filled",
                                              "recorded_at": T0}])  # fmt: skip
    assert [i.intent.client_order_id for i in SqlRunStore(engine).intents("run_1")] == ["tf-real"]
