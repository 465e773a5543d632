"""The `tradefsm` command: its options, exit codes and one-line errors.

It is the composition root: settings, the SQL store and the audit queries are wired here,
imported inside the functions that need them, so `--help` loads no database layer.
Commands stay thin: parse, call one library function, print. Expected errors become one line
on stderr and an exit code per family (see ``EXIT_CODES``), never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.commands import (
    approval,
    audit,
    broker,
    calendar,
    console,
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
from fsm.commands.output import Format, emit, stderr, stdout
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


db_app = typer.Typer(help="Migrate and inspect the run database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
DbOption = runs.DbOption


def _settings(db: str | None) -> Any:
    from fsm.commands.embedded import settings_from

    return settings_from(db=db)


def engine_for(url: str, read_only: bool = False, create: bool = False) -> Any:
    """The SQLAlchemy engine of ``url``, one per URL and mode for the process. Only ``create``
    (`db upgrade`) may create a missing SQLite file: every other command refuses it."""
    settings = _settings(url)
    return _cached_engine(
        url, settings.db_pool_size, settings.db_statement_timeout_ms, settings.db_application_name,
        read_only, create,
    )  # fmt: skip


@cache
def _cached_engine(
    url: str, pool_size: int, timeout_ms: int, name: str, read_only: bool, create: bool
) -> Any:
    from persistence.engine import make_engine

    engine = make_engine(
        url, read_only=read_only, pool_size=pool_size, statement_timeout_ms=timeout_ms,
        application_name=name, create=create,
    )  # fmt: skip
    _CLOSE.append(engine.dispose)
    return engine


_CLOSE: list[Callable[[], None]] = []  # at exit, newest first (SQLite checkpoints its WAL then)


def _close_databases() -> None:
    for close in reversed(_CLOSE):
        close()


def open_store(db: str | None) -> Any:
    """The run database at head revision (refuses an older schema); a driver's writes ride
    through database faults for TRADEFSM_DB_RETRY_SECONDS."""
    from persistence import migrate
    from persistence.ridethrough import RideThrough
    from persistence.store import SqlRunStore

    settings = _settings(db)
    engine = engine_for(settings.db)
    migrate.ensure_current(engine)
    store = SqlRunStore(engine, RideThrough(settings.db_retry_seconds))
    _CLOSE.append(store.close)
    return store


def open_worker_store(db: str | None, concurrency: int) -> Any:
    """``open_store`` for a worker: with TRADEFSM_GROUP_COMMIT and more than one thread, the
    transitions its threads commit together share one commit."""
    store = open_store(db)
    if concurrency > 1 and _settings(db).group_commit:
        store.share_commits()
    return store


def open_reader(db: str | None) -> Any:
    """The run database at head revision, opened read-only: reads never write."""
    from persistence import migrate
    from persistence.ridethrough import RideThrough
    from persistence.store import SqlRunStore

    engine = engine_for(_settings(db).db, read_only=True)
    migrate.ensure_current(engine)
    return SqlRunStore(engine, RideThrough(budget_seconds=0))  # a reader fails at once


def read_decisions(db: str | None, query: Any) -> Any:
    """The recorded guard decisions of the runs ``query`` selects, read-only (`replay`)."""
    from persistence.replay import recorded_transitions

    return recorded_transitions(open_reader(db).engine, query)


def read_runs(db: str | None, query: Any) -> Any:
    """The recorded analysis and plan of the runs ``query`` selects, read-only (`replay`)."""
    from persistence.replay import recorded_runs

    return recorded_runs(open_reader(db).engine, query)


def open_metrics(db: str | None) -> Any:
    """The run database's aggregates for Prometheus (``fsm.metrics``), read-only."""
    from persistence.metrics import SqlMetrics

    return SqlMetrics(open_reader(db).engine)


def open_audit(db: str | None) -> Any:
    """Audit queries on the run database at head revision, read-only."""
    from persistence.audit import SqlAudit

    return SqlAudit(open_reader(db).engine)


def open_events(db: str | None, read_only: bool = False) -> Any:
    """The event log of the run database at head revision (fsm.eventlog)."""
    from persistence.events import SqlEventLog

    return SqlEventLog((open_reader(db) if read_only else open_store(db)).engine)


def shown_db(db: str) -> str:
    """The database URL as people may see it (no password, no query)."""
    from persistence.engine import shown_url

    return shown_url(db)


def open_keys(db: str | None, read_only: bool = False) -> Any:
    """The approver key registry of the run database at head revision."""
    from persistence.approvers import SqlApproverKeys

    return SqlApproverKeys((open_reader(db) if read_only else open_store(db)).engine)


def seal_now(db: str | None, out: Path | None = None) -> dict[str, Any]:
    """Sign a digest of the runs changed since the last one (`audit seal`)."""
    from fsm.clock import SystemClock
    from fsm.digests import load_private_key
    from persistence.audit import SqlAudit

    settings = _settings(db)
    if settings.audit_signing_key is None:
        raise InvalidConfiguration(
            "no signing key: set TRADEFSM_AUDIT_SIGNING_KEY to the private key file written by "
            "`tradefsm audit keygen`"
        )
    folder = out or settings.audit_digest_dir
    if folder is None:
        raise InvalidConfiguration("no digest folder: pass --out or set TRADEFSM_AUDIT_DIGEST_DIR")
    key = load_private_key(settings.audit_signing_key)
    result: dict[str, Any] = SqlAudit(open_store(db).engine).seal(key, SystemClock().now(), folder)
    return result


runs_group = runs.register(app, open_reader, open_keys)
definitions.register(app, runs_group, open_reader, open_store)
audit.register(app, open_audit, seal_now)
diagram.register(app, open_reader)
lifecycle.register(app, open_store, seal_now)
approval.register(app, open_store, open_keys)
halting.register(app, open_store)
retention.register(app, open_store)
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


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the run database to the newest schema."""
    from persistence import migrate

    engine = engine_for(_settings(db).db, create=True)
    migrate.upgrade(engine)
    stdout.print(f"database at {', '.join(migrate.current_revisions(engine))} (head)")


@db_app.command("history")
def db_history(
    db: DbOption = None, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
) -> None:
    """List the schema migrations, newest first, marking the one the database is at."""
    from persistence import migrate

    rows = migrate.history(engine_for(_settings(db).db, read_only=True))
    for row in rows:
        if fmt is Format.TABLE:  # a mark for people; JSON and CSV keep the boolean
            row["current"] = "← current" if row["current"] else ""
    emit(rows, ("revision", "down_revision", "message", "current"), fmt, "migrations")


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision of the database."""
    from persistence import migrate

    current = migrate.current_revisions(engine_for(_settings(db).db, read_only=True))
    stdout.print(", ".join(current) or "empty (run `tradefsm db upgrade`)")


@db_app.command("check")
def db_check(db: DbOption = None) -> None:
    """Exit 0 when the database is at head, matches the tables in code and keeps its
    defences (append-only triggers as migrated, no row-level security, schema public)."""
    from persistence import migrate
    from persistence.defences import defence_findings

    engine = engine_for(_settings(db).db)
    migrate.ensure_current(engine)
    differences = migrate.drift(engine)
    if differences:
        raise StorageError(f"schema drift: {differences[:3]}")
    weakened = defence_findings(engine)
    for finding in weakened:
        stderr.print(f"{finding.key}: {finding.problem}", markup=False, highlight=False)
    if weakened:
        raise StorageError(
            f"{len(weakened)} weakened defence(s): {weakened[0].problem} (see above)"
        )
    stdout.print("database at head, no drift, defences in place")


@db_app.command("grants")
def db_grants(
    runtime: Annotated[str | None, typer.Option(
        help="Role of run, worker, submit, resume, approve, reject, cancel, retry: SELECT, "
        "INSERT and UPDATE of the columns that move only.")] = None,
    sealer: Annotated[str | None, typer.Option(
        help="Role of `audit seal`: the only one that writes digests.")] = None,
    auditor: Annotated[str | None, typer.Option(help="Read-only role of audits.")] = None,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Run the statements on --db (as the tables' owner).")] = False,
    db: DbOption = None,
) -> None:  # fmt: skip
    """Print the least-privilege GRANT statements of PostgreSQL roles; --apply runs them."""
    from persistence import grants, migrate

    if not (runtime or sealer or auditor):
        raise typer.BadParameter("name at least one of --runtime, --sealer, --auditor")
    sql = grants.statements(grants.Roles(runtime, sealer, auditor))
    if apply:
        engine = engine_for(_settings(db).db)
        migrate.ensure_current(engine)
        grants.apply(engine, sql)
    for statement in sql:
        stdout.print(f"{statement};", markup=False, highlight=False, soft_wrap=True)
    if apply:
        stdout.print(f"-- applied {len(sql)} statement(s)", markup=False)


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
            _close_databases()
    except TradeFsmError as exc:
        message = exc.message
        if isinstance(exc, DatabaseUnavailable | StorageAccessDenied) and exc.run_id:
            message += f"; run {exc.run_id} is resumable: `tradefsm resume {exc.run_id}`"
        stderr.print(f"error: {message}", markup=False, highlight=False)
        sys.exit(exit_code(exc))
