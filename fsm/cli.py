"""The `tradefsm` command: its options, exit codes and one-line errors.

It wires the commands to the composition root (``fsm.compose``), which opens the stores and
builds the engines, importing the database layer only when a command runs.
Commands stay thin: parse, call one library function, print. Expected errors become one line
on stderr and an exit code per family (see ``EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.commands import (
    approval,
    audit,
    broker,
    calendar,
    console,
    db,
    definitions,
    diagram,
    events,
    halting,
    keys,
    lifecycle,
    paper,
    plugins,
    policy,
    queue,
    replay,
    retention,
    runs,
)
from fsm.commands.output import stderr
from fsm.compose.stores import (
    close_databases,
    open_audit,
    open_events,
    open_keys,
    open_metrics,
    open_reader,
    open_store,
    open_worker_store,
    read_decisions,
    read_runs,
    seal_now,
    shown_db,
)
from fsm.configfile import CONFIG_FILE
from fsm.errors import (
    ConcurrentModification,
    DatabaseUnavailable,
    HistoryConflict,
    IdempotencyConflict,
    InvalidConfiguration,
    InvalidInput,
    MigrationRefused,
    PluginMismatch,
    RunAlreadyActive,
    RunInterrupted,
    RunLeased,
    RunNotFound,
    RunNotResumable,
    RunStranded,
    StorageAccessDenied,
    StorageError,
    TradeFsmError,
    TradingHalted,
)
from fsm.failpoints import armed_failpoints
from fsm.log import configure_logging

EXIT_CODES: tuple[tuple[type[TradeFsmError], int], ...] = (
    (IdempotencyConflict, 10),
    (TradingHalted, 11),
    (RunStranded, 12),
    (MigrationRefused, 12),
    (PluginMismatch, 12),  # the run needs other code or configuration than this process's
    (InvalidInput, 2),
    (StorageError, 3),
    (RunNotFound, 4),
    (RunAlreadyActive, 5),
    (RunLeased, 5),
    (ConcurrentModification, 5),
    (RunNotResumable, 7),
    (HistoryConflict, 8),
    (TradeFsmError, 6),
)


def _plain_flags() -> None:
    """Typer's rich help prints a type after every option, `--json <bool>` too, as if a flag
    took a value: flags and counters (`-v`) show none, as click's plain help has it."""
    option = typer.core.TyperOption
    typed = getattr(option, "display_type_rich", None)
    if typed is None:  # a Typer whose help never printed one
        return

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag or self.count else typed(self, ctx)

    setattr(option, "display_type_rich", display_type_rich)  # noqa: B010  # a method, by name


_plain_flags()

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
    path = _config_file(config)
    CONFIG_FILE.set(path)
    if log_level:
        configure_logging(log_level, setting="--log-level")
    elif verbose:
        configure_logging("DEBUG" if verbose > 1 else "INFO")
    elif path is not None and "TRADEFSM_LOG_LEVEL" not in os.environ:
        _file_log_level(path)


def _file_log_level(path: Path) -> None:
    """``log_level`` from the settings file, below the environment and the flags."""
    try:
        level = tomllib.loads(path.read_text(encoding="utf-8")).get("log_level")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # the settings, read with the command, say what is wrong with the file
    if isinstance(level, str):
        configure_logging(level, setting=f"log_level in {path}")


def _config_file(given: Path | None) -> Path | None:
    """The settings file: ``--config``, else ./tradefsm.toml when it exists (a folder by
    either name is refused, not skipped)."""
    path, named = (given, f"--config {given}") if given else (Path("tradefsm.toml"), "")
    if path.is_dir():
        raise InvalidConfiguration(f"{named or path.resolve()} is a folder, not a settings file")
    if path.is_file():
        return path
    if given is not None:
        raise InvalidConfiguration(f"no config file {given}")
    return None


db.register(app)
runs_group = runs.register(app, open_reader, open_keys)
definitions.register(app, runs_group, open_reader, open_store)
audit.register(app, open_audit, open_reader, seal_now)
diagram.register(app, open_reader)
lifecycle.register(app, open_store, seal_now)
approval.register(app, open_store, open_keys)
halting.register(app, open_store)
retention.register(app)
keys.register(app, open_keys)
policy.register(app, open_store, open_reader)
replay.register(app, open_reader, read_decisions, read_runs)
queue.register(app, open_store, open_worker_store, seal_now, open_events, open_metrics)
events.register(app, open_events, open_reader)
paper.register(app)
plugins.register(app)
broker.register(app, open_reader)
calendar.register(app, open_reader)
console.register(app, open_reader, open_audit, open_keys, shown_db, open_metrics)


def exit_code(error: TradeFsmError) -> int:
    if isinstance(error, RunInterrupted):  # the shell's convention: 128 + the signal's number
        return 128 + signal.Signals[error.signal_name].value
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def main() -> None:
    # On a terminal the progress display is the output: logs only from WARNING unless asked.
    quiet = "WARNING" if sys.stderr.isatty() else "INFO"
    try:
        configure_logging(os.environ.get("TRADEFSM_LOG_LEVEL", quiet), setting="TRADEFSM_LOG_LEVEL")
        armed_failpoints()  # a misspelt failpoint must stop a crash test, not disable it
        try:
            app()
        finally:
            close_databases()
    except TradeFsmError as exc:
        message = exc.message
        if isinstance(exc, DatabaseUnavailable | StorageAccessDenied) and exc.run_id:
            message += f"; run {exc.run_id} is resumable: `tradefsm resume {exc.run_id}`"
        stderr.print(f"error: {message}", markup=False, highlight=False)
        sys.exit(exit_code(exc))
