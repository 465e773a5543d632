"""The `tradefsm` command: its options, exit codes and one-line errors.

The database side is wired in ``fsm.wiring``, imported only by commands that need it.
Commands stay thin: parse, call one library function, print. Expected errors become one line
on stderr and an exit code per family (see ``EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from fsm.commands import approval, audit, broker, console, diagram, lifecycle, paper, queue, runs
from fsm.commands.output import Format, emit, stderr, stdout
from fsm.configfile import CONFIG_FILE
from fsm.errors import (
    ConcurrentModification,
    DatabaseUnavailable,
    IdempotencyConflict,
    InvalidConfiguration,
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

EXIT_CODES: tuple[tuple[type[TradeFsmError], int], ...] = (
    (IdempotencyConflict, 10),
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
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        print(f"tradefsm {metadata.version('tradefsm')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: ./tradefsm.toml if present); "
            "flags > environment > file > defaults.",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-v info, -vv debug).")
    ] = 0,
    log_level: Annotated[str | None, typer.Option(help="Log level on stderr.")] = None,
    _show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Run a trading rebalance as a guarded, persisted, auditable state machine."""
    default = Path("tradefsm.toml")
    if config is not None and not config.is_file():
        raise InvalidConfiguration(f"no config file {config}")
    CONFIG_FILE.set(config or (default if default.is_file() else None))
    if verbose or log_level:
        configure_logging(log_level or ("DEBUG" if verbose > 1 else "INFO"))


db_app = typer.Typer(help="Migrate and inspect the run database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
DbOption = runs.DbOption


def _wiring() -> ModuleType:
    return import_module("fsm.wiring")  # on first use: see fsm.wiring


def open_store(db: str | None) -> Any:
    return _wiring().open_store(db)


def open_reader(db: str | None) -> Any:
    return _wiring().open_reader(db)


def open_audit(db: str | None) -> Any:
    return _wiring().open_audit(db)


def seal_now(db: str | None, out: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = _wiring().seal_now(db, out)
    return result


runs.register(app, open_reader)
audit.register(app, open_audit, seal_now)
diagram.register(app, open_reader)
lifecycle.register(app, open_store, seal_now)
approval.register(app, open_store)
queue.register(app, open_store, seal_now)
paper.register(app)
broker.register(app)
console.register(app, open_reader, open_audit)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the run database to the newest schema."""
    wiring, migrate = _wiring(), import_module("persistence.migrate")
    engine = wiring.engine_for(wiring.settings_from(db=db).db)
    migrate.upgrade(engine)
    stdout.print(f"database at {', '.join(migrate.current_revisions(engine))} (head)")


@db_app.command("history")
def db_history(
    db: DbOption = None, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """List the schema migrations, newest first, marking the one the database is at."""
    wiring, migrate = _wiring(), import_module("persistence.migrate")
    rows = migrate.history(wiring.engine_for(wiring.settings_from(db=db).db, read_only=True))
    for row in rows:
        row["current"] = "← current" if row["current"] and fmt is Format.TABLE else row["current"]
    emit(rows, ("revision", "down_revision", "message", "current"), fmt, "migrations")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision of the database."""
    wiring, migrate = _wiring(), import_module("persistence.migrate")
    current = migrate.current_revisions(
        wiring.engine_for(wiring.settings_from(db=db).db, read_only=True)
    )
    stdout.print(", ".join(current) or "empty (run `tradefsm db upgrade`)")


@db_app.command("check")
def db_check(db: DbOption = None) -> None:
    """Exit 0 when the database is at head and matches the tables in code."""
    wiring, migrate = _wiring(), import_module("persistence.migrate")
    engine = wiring.engine_for(wiring.settings_from(db=db).db)
    migrate.ensure_current(engine)
    differences = migrate.drift(engine)
    if differences:
        raise StorageError(f"schema drift: {differences[:3]}")
    stdout.print("database at head, no drift")


def exit_code(error: TradeFsmError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def main() -> None:
    # On a terminal the progress display is the output: logs only from WARNING unless asked.
    quiet = "WARNING" if sys.stderr.isatty() else "INFO"
    configure_logging(os.environ.get("TRADEFSM_LOG_LEVEL", quiet))
    try:
        armed_failpoints()  # a misspelt failpoint must stop a crash test, not disable it
        try:
            app()
        finally:
            if "fsm.wiring" in sys.modules:
                _wiring().close_databases()
    except TradeFsmError as exc:
        message = exc.message
        if isinstance(exc, DatabaseUnavailable) and exc.run_id:
            message += f"; run {exc.run_id} is resumable: `tradefsm resume {exc.run_id}`"
        stderr.print(f"error: {message}", markup=False, highlight=False)
        sys.exit(exit_code(exc))
