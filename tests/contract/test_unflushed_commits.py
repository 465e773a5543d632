"""An unflushed commit (TRADEFSM_DURABILITY=effects) relaxes its own transaction only.

The connection that made it flushes the next commit again, so an intent saved or an order's
ack recorded after it is on disk before the broker is called, as with `strict`.
"""

from __future__ import annotations

import pytest

from persistence.engine import make_engine
from persistence.hotpath import HeldConnections, driver_transaction

SETTING = {"sqlite": "PRAGMA synchronous", "postgresql": "SHOW synchronous_commit"}
FLUSHING = {"sqlite": 2, "postgresql": "on"}  # FULL; on


def _setting(raw: object, backend: str) -> object:
    cursor = raw.cursor()  # type: ignore[attr-defined]
    cursor.execute(SETTING[backend])
    value = cursor.fetchone()[0]
    raw.rollback()  # type: ignore[attr-defined]
    return value


def test_the_next_commit_on_the_same_connection_is_flushed(migrated_url: str) -> None:
    engine = make_engine(migrated_url, pool_size=1)
    backend = engine.dialect.name
    held = HeldConnections(engine)
    with driver_transaction(engine, held=held, flush=False) as tx:
        tx.cursor.execute(SETTING[backend])
        assert tx.cursor.fetchone()[0] == {"sqlite": 1, "postgresql": "off"}[backend]
        tx.cursor.execute("SELECT 1 FROM runs")
    assert _setting(held.get(), backend) == FLUSHING[backend]
    held.discard()
    engine.dispose()


def test_a_failed_unflushed_transaction_leaves_the_connection_flushing(
    migrated_url: str,
) -> None:
    engine = make_engine(migrated_url, pool_size=1)
    backend = engine.dialect.name
    held = HeldConnections(engine)

    def refused() -> None:
        with driver_transaction(engine, held=held, flush=False) as tx:
            tx.cursor.execute("SELECT 1 FROM runs")
            raise KeyError("a step's own error")

    with pytest.raises(KeyError):
        refused()
    assert _setting(held.get(), backend) == FLUSHING[backend]
    held.discard()
    engine.dispose()
