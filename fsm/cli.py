"""The composition root: wires settings, the SQL store, the paper broker and the engine.

Commands stay thin: parse, call one library function, print. Expected errors become one line
on stderr and an exit code per family (see ``EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

import typer

from fsm.commands import audit, diagram, lifecycle, paper, queue, runs
from fsm.commands.output import stderr, stdout
from fsm.errors import (
    ConcurrentModification,
    InvalidInput,
    RunAlreadyActive,
    RunLeased,
    RunNotFound,
    RunNotResumable,
    StorageError,
    TradeFsmError,
)
from fsm.failpoints import armed_failpoints
from fsm.log import configure_logging
from persistence import migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore

EXIT_CODES: tuple[tuple[type[TradeFsmError], int], ...] = (
    (InvalidInput, 2),
    (StorageError, 3),
    (RunNotFound, 4),
    (RunAlreadyActive, 5),
    (RunLeased, 5),
    (ConcurrentModification, 5),
    (RunNotResumable, 7),
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


_settings = lifecycle.settings_from


def _engine(url: str) -> Any:
    settings = _settings(db=url)
    return _cached_engine(
        url, settings.db_pool_size, settings.db_statement_timeout_ms, settings.db_application_name
    )


@cache
def _cached_engine(url: str, pool_size: int, timeout_ms: int, name: str) -> Any:
    return make_engine(
        url, pool_size=pool_size, statement_timeout_ms=timeout_ms, application_name=name
    )


def open_store(db: str | None) -> SqlRunStore:
    """The run database at head revision (refuses an older schema)."""
    engine = _engine(_settings(db=db).db)
    migrate.ensure_current(engine)
    return SqlRunStore(engine)


def open_audit(db: str | None) -> SqlAudit:
    """Audit queries on the run database at head revision."""
    return SqlAudit(open_store(db).engine)


runs.register(app, open_store)
audit.register(app, open_audit)
diagram.register(app, open_store)
lifecycle.register(app, open_store)
queue.register(app, open_store)
paper.register(app)


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
        armed_failpoints()  # a misspelt failpoint must stop a crash test, not disable it
        app()
    except TradeFsmError as exc:
        stderr.print(f"error: {exc.message}", markup=False, highlight=False)
        sys.exit(exit_code(exc))
