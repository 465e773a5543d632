"""PostgreSQL specifics: session settings, awkward passwords, a lost connection mid-run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import text

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import StorageError
from fsm.pluginrecords import OrderAck, OrderIntent
from fsm.requests import RunRequest
from persistence import migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres


def test_session_settings_reach_the_server(pg_cluster: PostgresCluster) -> None:
    engine = make_engine(pg_cluster.new_database(), pool_size=2, statement_timeout_ms=1234,
                         application_name="tradefsm-test")  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar_one() == "tradefsm-test"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
    assert engine.pool.size() == 2  # type: ignore[attr-defined]


def test_a_password_with_url_special_characters_works(pg_cluster: PostgresCluster) -> None:
    password = "p@ss:w/rd?#%"
    with psycopg.connect(pg_cluster.admin_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE trader LOGIN PASSWORD '{password}'")
        conn.execute("CREATE DATABASE trader_db OWNER trader")
    pg_cluster.require_password("trader")
    where = f"127.0.0.1:{pg_cluster.port}/trader_db"
    with pytest.raises(StorageError):  # the server really checks the password
        migrate.upgrade(make_engine(f"postgresql+psycopg://trader:wrong@{where}"))
    engine = make_engine(f"postgresql+psycopg://trader:{quote(password, safe='')}@{where}")
    migrate.upgrade(engine)
    assert migrate.drift(engine) == []


class DroppingBroker(PaperBroker):
    """Cuts every database connection of the engine while the orders go out."""

    def __init__(self, path: Path, admin_dsn: str) -> None:
        super().__init__(path)
        self.admin_dsn, self.dropped = admin_dsn, 0

    def submit(self, intent: OrderIntent) -> OrderAck:
        if not self.dropped:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                self.dropped = len(conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'tradefsm-drop' AND pid <> pg_backend_pid()"
                ).fetchall())  # fmt: skip
        return super().submit(intent)

    def orders(self, client_order_ids: Sequence[str] | None = None) -> list[Any]:
        return super().orders(client_order_ids)


def test_a_lost_connection_during_a_step_is_survived(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    engine = make_engine(pg_cluster.new_database(), application_name="tradefsm-drop")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    broker = DroppingBroker(tmp_path / "paper.db", pg_cluster.admin_dsn())
    run = make_engine_for(store, broker, FixedClock(TRADING_DAY)).run(
        RunRequest(account_id="paper")
    )
    assert broker.dropped >= 1
    assert run.state == "done", run.failure
    assert len(broker.orders()) == len(store.intents(run.run_id)) == 8


def test_database_defaults_cannot_change_what_a_session_reads(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """ALTER DATABASE … SET of another date style, time zone and a search_path that puts
    frozen copies of the tables first: the engine and verify still read the real tables."""
    url = pg_cluster.new_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    name = engine.url.database
    with psycopg.connect(pg_cluster.admin_dsn().replace("dbname=postgres", f"dbname={name}"),
                         autocommit=True) as conn:  # fmt: skip
        conn.execute("CREATE SCHEMA frozen")
        for table in ("runs", "ledger", "checkpoints", "order_intents", "intent_events"):
            conn.execute(f"CREATE TABLE frozen.{table} AS TABLE public.{table}")
        for setting, value in (
            ("DateStyle", "'SQL, DMY'"),
            ("TimeZone", "'Pacific/Auckland'"),
            ("IntervalStyle", "sql_standard"),
            ("search_path", "frozen, public"),
        ):
            conn.execute(f'ALTER DATABASE "{name}" SET {setting} = {value}')  # fmt: skip
    with psycopg.connect(f"{pg_cluster.admin_dsn()[: -len('postgres')]}{name}") as plain:
        assert plain.execute("SHOW DateStyle").fetchone() == ("SQL, DMY",)  # the default moved
    engine = make_engine(url)  # new sessions
    with engine.connect() as conn:
        assert conn.execute(text("SHOW DateStyle")).scalar_one() == "ISO, YMD"
        assert conn.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
    store = SqlRunStore(engine)
    run = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY)).run(
        RunRequest(account_id="paper")
    )
    assert run.state == "done", run.failure
    assert store.intents(run.run_id)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM public.ledger")).scalar_one() == run.version
        assert conn.execute(text("SELECT count(*) FROM frozen.ledger")).scalar_one() == 0
    report = SqlAudit(engine).verify()
    assert (report.runs, report.rows) == (1, run.version)
    assert {f.key for f in report.findings} == {  # only the shadows are findings
        f"frozen.{t}" for t in ("runs", "ledger", "checkpoints", "order_intents", "intent_events")
    }
