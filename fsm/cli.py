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
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

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
from fsm.lazycommands import LazyGroup, Registration
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


def _registration(module: str, *openers: Callable[..., object]) -> Registration:
    """Registers the commands of ``fsm.commands.<module>``, importing it only then."""

    def register(app: typer.Typer) -> None:
        import_module(f"fsm.commands.{module}").register(app, *openers)

    return register


def _runs_and_definitions(app: typer.Typer) -> None:
    """`definitions` adds `runs migrate` to the `runs` group."""
    from fsm.commands import definitions, runs

    definitions.register(app, runs.register(app, open_reader, open_keys), open_reader, open_store)


_LIFECYCLE = _registration("lifecycle", open_store, seal_now)
_APPROVAL = _registration("approval", open_store, open_keys)
_HALTING = _registration("halting", open_store)
_QUEUE = _registration("queue", open_store, open_worker_store, seal_now, open_events, open_metrics)
_EVENTS = _registration("events", open_events, open_reader)
_RETENTION = _registration("retention")


# Every command of `tradefsm`, in the order --help lists them (the commands, then the groups),
# and what registers it: a command's module is imported only when the command is looked up.
COMMANDS: Mapping[str, Registration] = {
    "diagram": _registration("diagram", open_reader),
    **dict.fromkeys(("run", "resume", "retry", "cancel", "failpoints"), _LIFECYCLE),
    "approve": _APPROVAL,
    "reject": _APPROVAL,
    "halt": _HALTING,
    "unhalt": _HALTING,
    "replay": _registration("replay", open_reader, read_decisions, read_runs),
    "submit": _QUEUE,
    "worker": _QUEUE,
    "notify": _EVENTS,
    "plugins": _registration("plugins"),
    "calendar": _registration("calendar", open_reader),
    "console": _registration("console", open_reader, open_audit, open_keys, shown_db, open_metrics),
    "db": _registration("db"),
    "runs": _runs_and_definitions,
    "definitions": _runs_and_definitions,
    "audit": _registration("audit", open_audit, open_reader, seal_now),
    "retention": _RETENTION,
    "hold": _RETENTION,
    "keys": _registration("keys", open_keys),
    "policy": _registration("policy", open_store, open_reader),
    "events": _EVENTS,
    "paper": _registration("paper"),
    "broker": _registration("broker", open_reader),
}


class _Commands(LazyGroup):
    registrations = COMMANDS


app = typer.Typer(
    cls=_Commands,
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
