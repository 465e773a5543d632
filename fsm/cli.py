"""The composition root: wires settings, the SQL store, the paper broker and the engine.

Commands stay thin: parse, call one library function, print. Expected errors become one line
on stderr and an exit code per family (see ``EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.status import Status

from fsm.adapters.market_data import BundledMarketData, CsvMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.clock import SystemClock
from fsm.commands import paper, runs
from fsm.commands.output import print_json, stderr, stdout
from fsm.engine import Engine, Ports, RunRequest
from fsm.errors import (
    ConcurrentModification,
    InvalidConfiguration,
    InvalidInput,
    RunAlreadyActive,
    RunNotFound,
    RunNotResumable,
    StorageError,
    TradeFsmError,
)
from fsm.ids import UuidFactory
from fsm.log import configure_logging
from fsm.records import LedgerEntry, Mode, RunRecord
from fsm.settings import Settings, load_settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore

EXIT_CODES: tuple[tuple[type[TradeFsmError], int], ...] = (
    (InvalidInput, 2),
    (StorageError, 3),
    (RunNotFound, 4),
    (RunAlreadyActive, 5),
    (RunNotResumable, 5),
    (ConcurrentModification, 5),
    (TradeFsmError, 6),
)

app = typer.Typer(
    name="tradefsm",
    help="Run a trading rebalance as a guarded, persisted, auditable state machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Migrate and inspect the run database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
DbOption = runs.DbOption


def _settings(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


@cache
def _engine(url: str) -> Any:
    return make_engine(url)


def open_store(db: str | None) -> SqlRunStore:
    """The run database at head revision (refuses an older schema)."""
    engine = _engine(_settings(db=db).db)
    migrate.ensure_current(engine)
    return SqlRunStore(engine)


runs.register(app, open_store)
paper.register(app)


@app.command()
def run(
    db: DbOption = None,
    account: Annotated[str | None, typer.Option(help="Account id (default: paper).")] = None,
    mode: Annotated[Mode, typer.Option(help="What the run may do.")] = Mode.PAPER,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Market date (default: today).")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Same key, same run.")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="Tie the run to a caller.")] = None,
    prices: Annotated[
        Path | None, typer.Option(help="CSV of date,symbol,price instead of bundled data.")
    ] = None,
    paper_db: Annotated[Path | None, typer.Option(help="Paper broker file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Start a rebalance run and drive it to done (exit 0) or failed (exit 1)."""
    settings = _settings(db=db, account_id=account, paper_db=paper_db)
    if mode is Mode.LIVE and settings.live_trading_enabled:
        raise InvalidConfiguration("live trading needs a live broker adapter; only paper ships")
    market = CsvMarketData(prices) if prices else BundledMarketData()
    store = open_store(settings.db)
    ports = Ports(MomentumStrategy(market), market, PaperBroker(settings.paper_db))
    request = RunRequest(
        account_id=settings.account_id,
        mode=mode,
        as_of=as_of.date() if as_of else None,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
    )
    with _progress(enabled=not as_json) as observer:
        engine = Engine(store, ports, settings, SystemClock(), UuidFactory(), observer=observer)
        result = engine.run(request)
    _report(store, result, as_json)
    raise typer.Exit(0 if result.state == "done" else 1)


class _progress:
    """Live state and step time on a terminal; nothing otherwise (logs carry the facts)."""

    def __init__(self, *, enabled: bool, console: Console = stderr) -> None:
        self.console = console
        live = enabled and console.is_terminal
        self.status = Status("starting run", console=console) if live else None

    def __enter__(self) -> Any:
        if self.status is None:
            return None
        self.status.start()
        return self._update

    def _update(self, run: RunRecord, entry: LedgerEntry) -> None:
        assert self.status is not None
        self.status.update(f"{run.run_id}: {run.state} (last step {entry.duration_ms} ms)")
        self.console.print(f"  {entry.event}: {entry.source or '∅'} → {entry.target or 'refused'}")

    def __exit__(self, *_exc: object) -> None:
        if self.status is not None:
            self.status.stop()


def _report(store: SqlRunStore, run_: RunRecord, as_json: bool) -> None:
    details = runs.run_details(store, run_.run_id)
    if as_json:
        body = details["run"]
        print_json({**body, "transitions": details["ledger"], "orders": details["orders"]})
        return
    colour = "green" if run_.state == "done" else "red"
    stdout.print(f"run [bold]{run_.run_id}[/] ended [{colour}]{run_.state}[/]")
    stdout.print(f"  account {run_.account_id}, mode {run_.mode.value}, as of {run_.as_of}")
    stdout.print(f"  {len(details['ledger'])} ledger rows, {len(details['orders'])} order(s)")
    if run_.failure:
        stdout.print(f"  failed: {run_.failure['error_type']}: {run_.failure['message']}")
    stdout.print(f"  details: tradefsm runs show {run_.run_id}")


@app.command()
def cancel(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why the run is cancelled (kept in the ledger).")],
    actor: Annotated[str, typer.Option(help="Who cancels it (kept in the ledger).")],
    db: DbOption = None,
) -> None:
    """Cancel an unfinished run: it ends failed, with your name and reason in its ledger."""
    settings = _settings(db=db)
    store = open_store(settings.db)
    market = BundledMarketData()
    ports = Ports(MomentumStrategy(market), market, PaperBroker(settings.paper_db))
    engine = Engine(store, ports, settings, SystemClock(), UuidFactory())
    cancelled = engine.cancel(run_id, actor=actor, reason=reason)
    stdout.print(f"run {cancelled.run_id} cancelled by {actor}: now {cancelled.state}")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the run database to the newest schema."""
    engine = _engine(_settings(db=db).db)
    migrate.upgrade(engine)
    stdout.print(f"database at {', '.join(migrate.current_revisions(engine))} (head)")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision of the database."""
    current = migrate.current_revisions(_engine(_settings(db=db).db))
    stdout.print(", ".join(current) or "empty (run `tradefsm db upgrade`)")


@db_app.command("check")
def db_check(db: DbOption = None) -> None:
    """Exit 0 when the database is at head and matches the tables in code."""
    engine = _engine(_settings(db=db).db)
    migrate.ensure_current(engine)
    differences = migrate.drift(engine)
    if differences:
        raise StorageError(f"schema drift: {differences[:3]}")
    stdout.print("database at head, no drift")


def exit_code(error: TradeFsmError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def main() -> None:
    configure_logging(os.environ.get("TRADEFSM_LOG_LEVEL", "INFO"))
    try:
        app()
    except TradeFsmError as exc:
        stderr.print(f"error: {exc.message}", markup=False, highlight=False)
        sys.exit(exit_code(exc))
