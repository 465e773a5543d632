"""Shared fixtures: real SQLite files, a real throwaway PostgreSQL, the bundled adapters."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.audit import Finding
from fsm.clock import Clock, FixedClock
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.integrity import chain_findings
from fsm.ports import RunStore
from fsm.records import LedgerEntry
from fsm.requests import Ports
from fsm.settings import Settings
from persistence import append_only, constraints, migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.clock_shift.sitecustomize import SHIFT, shift_system_clock
from tests.days import market_hours_shift
from tests.postgres_cluster import PostgresCluster, PostgresUnavailable

TRADING_DAY = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)  # an XNYS session, minutes after its open
CLOCK_SHIFT_DIR = str(Path(__file__).parent / "clock_shift")


def pytest_configure(config: pytest.Config) -> None:
    """The commands tests start see the same environment serially and in parallel: pytest's
    parallel workers (xdist) set a terminal size, which would change how wide the command's
    output is; a test that wants a width sets COLUMNS itself.

    The wall clock of this process and of every Python process it starts reads a time the
    market is open, whatever the day and hour (tests/clock_shift)."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    os.environ[SHIFT] = str(market_hours_shift(datetime.now(UTC)).total_seconds())
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if CLOCK_SHIFT_DIR not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([CLOCK_SHIFT_DIR, *paths])
    shift_system_clock(float(os.environ[SHIFT]))


def restore_triggers(conn: Connection) -> None:
    """A careful administrator puts every append-only trigger back as the migrations left it
    (after dropping some to edit rows): `audit verify` then reports no weakened defence."""
    tables = append_only.TABLES
    append_only.drop(conn, tables)
    if conn.dialect.name == "postgresql":
        for table in tables:
            name = append_only.trigger_name(table, "TRUNCATE")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    append_only.create(conn, tables)
    append_only.harden(conn, tables)
    append_only.allow_archived_deletes(conn)
    constraints.drop(conn)
    constraints.create(conn)


def started_cluster() -> Iterator[PostgresCluster]:
    """A throwaway cluster for a fixture: skipped where PostgreSQL is missing, except in CI."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    yield from started_cluster()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL on each SQL backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


@pytest.fixture
def migrated_url(db_url: str) -> str:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    engine.dispose()
    return db_url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    """The same RunStore contract on every backend."""
    if request.param == "memory":
        yield MemoryRunStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield SqlRunStore(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TRADING_DAY)


@pytest.fixture
def broker(tmp_path: Path) -> PaperBroker:
    return PaperBroker(tmp_path / "paper.db")


@pytest.fixture
def market() -> BundledMarketData:
    return BundledMarketData()


def broken_links(entries: Sequence[LedgerEntry]) -> list[Finding]:
    """What the hash chain check finds in a run's ledger (empty: intact)."""
    return chain_findings(entries[0].run_id, [e.model_dump() for e in entries])


def make_engine_for(
    store: RunStore,
    broker: PaperBroker,
    clock: Clock,
    settings: Settings | None = None,
    market: BundledMarketData | None = None,
    signals: object | None = None,
    ids: SequentialIdFactory | None = None,
) -> Engine:
    market = market or BundledMarketData()
    ports = Ports(signals or MomentumStrategy(market), market, broker)  # type: ignore[arg-type]
    return Engine(store, ports, settings or Settings(), clock, ids or SequentialIdFactory())
