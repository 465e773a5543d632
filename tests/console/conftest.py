"""A run database with every kind of run the console shows: done, refused by a guard,
waiting for approval, cancelled with markup in its reason, and one whose ledger was edited;
and a run killed and resumed by another process (``killed``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.console.app import Console
from fsm.ids import SequentialIdFactory
from fsm.records import LedgerEntry, RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import append_only, migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine, shown_url
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for, restore_triggers

MARKUP = "<script>alert('x')</script>"


@dataclass
class Runs:
    url: str
    done: RunRecord
    refused: RunRecord
    waiting: RunRecord
    cancelled: RunRecord
    tampered: RunRecord


def build_runs(folder: Path) -> Runs:
    url = f"sqlite:///{folder / 'runs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    clock = FixedClock(TRADING_DAY)

    def engine_for(account: str, settings: Settings) -> object:
        broker = PaperBroker(folder / f"{account}.db")
        return make_engine_for(store, broker, clock, settings, ids=SequentialIdFactory(account))

    def run(account: str, settings: Settings) -> RunRecord:
        return engine_for(account, settings).run(RunRequest(account_id=account))  # type: ignore[attr-defined, no-any-return]

    done = run("alpha", Settings())
    refused = run("beta", Settings(max_orders=2))
    waiting = run("gamma", Settings(approval_notional=1000))
    parked = run("delta", Settings(approval_notional=1000))
    cancelled = engine_for("delta", Settings()).cancel(  # type: ignore[attr-defined]
        parked.run_id, actor="ops-eve", reason=f"looks wrong {MARKUP}"
    )
    tampered = run("epsilon", Settings())
    with engine.begin() as conn:  # a database administrator edits the history
        append_only.drop(conn, ("ledger",))
        conn.execute(
            text("UPDATE ledger SET actor = 'mallory' WHERE run_id = :r AND seq = 2"),
            {"r": tampered.run_id},
        )
        restore_triggers(conn)  # and puts the triggers back as the migrations left them
    engine.dispose()
    return Runs(url, done, refused, waiting, cancelled, tampered)


@dataclass
class Workbench:
    """A migrated SQLite run database and engines over it, their clock at TRADING_DAY and a
    paper account each."""

    url: str
    store: SqlRunStore
    folder: Path

    def engine_for(self, account: str, settings: Settings, ids: str = "") -> Any:
        broker = PaperBroker(self.folder / f"{account}.db")
        return make_engine_for(self.store, broker, FixedClock(TRADING_DAY), settings,
                               ids=SequentialIdFactory(ids or account))  # fmt: skip


def workbench(folder: Path) -> Workbench:
    url = f"sqlite:///{folder / 'runs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    return Workbench(url, SqlRunStore(engine), folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return build_runs(tmp_path_factory.mktemp("console"))


def console_for(url: str, token: str | None = None, **options: Any) -> Console:
    """The console over a read-only engine, as `tradefsm console` opens it."""
    reader = make_engine(url, read_only=True)
    options.setdefault("database", shown_url(url))
    return Console(SqlRunStore(reader), SqlAudit(reader), token, **options)


LATER = timedelta(minutes=5)  # the first lease (60 s) ran out, the run's deadline (15 min) not


@dataclass
class Killed:
    url: str
    resumed: RunRecord  # started by one process, which stopped; resumed by another
    ledger: list[LedgerEntry]
    held: RunRecord  # its process stopped; nobody resumed it
    approved: RunRecord  # parked for approval by one process, approved from another


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Killed:
    bench = workbench(tmp_path_factory.mktemp("lineage"))
    started = bench.engine_for("eta", Settings(), "first").create(RunRequest(account_id="eta"))
    held = bench.engine_for("theta", Settings()).create(RunRequest(account_id="theta"))
    broker = PaperBroker(bench.folder / "eta.db")
    later = make_engine_for(bench.store, broker, FixedClock(TRADING_DAY + LATER), Settings(),
                            ids=SequentialIdFactory("second"))  # fmt: skip
    resumed = later.resume(started.run_id)
    asking = Settings(approval_notional=1000)
    parked = bench.engine_for("iota", asking, "park").run(RunRequest(account_id="iota"))
    approver = bench.engine_for("iota", asking, "approver")
    approved = approver.approve(parked.run_id, actor="risk-bob", reason="checked the plan")
    ledger = bench.store.ledger(resumed.run_id)
    bench.store.engine.dispose()
    return Killed(bench.url, resumed, ledger, held, approved)
