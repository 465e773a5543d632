"""A pooled PostgreSQL connection is pinged at checkout only when it was idle a while."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text

from fsm.errors import DatabaseUnavailable
from persistence import liveness
from persistence.engine import make_engine
from persistence.errors import translate_errors
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres


def _pooled_backend_dropped(pg_cluster: PostgresCluster) -> Engine:
    """An engine whose one pooled connection the server has just terminated."""
    engine = make_engine(pg_cluster.new_database(), pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(pg_cluster.admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return engine


def test_an_idle_connection_the_server_dropped_is_replaced_at_checkout(
    pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "IDLE_PING_S", 0.0)  # every connection counts as idle
    engine = _pooled_backend_dropped(pg_cluster)
    with engine.connect() as conn:  # no error: the ping found it dead, the pool opened another
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_a_connection_dropped_just_after_use_fails_once_then_is_replaced(
    pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the idle window no ping is spent: the next statement fails as the database
    being away (which the store's ride-through retries), and the pool opens a new one."""
    monkeypatch.setattr(liveness, "IDLE_PING_S", 3600.0)
    engine = _pooled_backend_dropped(pg_cluster)
    with pytest.raises(DatabaseUnavailable), translate_errors(), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
