"""`tradefsm db upgrade|history|current|check|grants`: the run database's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.output import Format, emit, stderr, stdout
from fsm.commands.runs import DbOption
from fsm.errors import StorageError


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="Migrate and inspect the run database schema.", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
    def db_upgrade(db: DbOption = None) -> None:
        """Create or migrate the run database to the newest schema."""
        from fsm.compose import schema

        stdout.print(f"database at {', '.join(schema.upgrade(db))} (head)")

    @db_app.command("history")
    def db_history(
        db: DbOption = None, fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE
    ) -> None:
        """List the schema migrations, newest first, marking the one the database is at."""
        from fsm.compose import schema

        rows = schema.history(db)
        for row in rows:
            if fmt is Format.TABLE:  # a mark for people; JSON and CSV keep the boolean
                row["current"] = "← current" if row["current"] else ""
        emit(rows, ("revision", "down_revision", "message", "current"), fmt, "migrations")

    @db_app.command("current")
    def db_current(db: DbOption = None) -> None:
        """Print the schema revision of the database."""
        from fsm.compose import schema

        stdout.print(", ".join(schema.current(db)) or "empty (run `tradefsm db upgrade`)")

    @db_app.command("check")
    def db_check(db: DbOption = None) -> None:
        """Exit 0 when the database is at head, matches the tables in code and keeps its
        defences (append-only triggers as migrated, no row-level security, schema public)
        and, on PostgreSQL, this and next month have their partitions."""
        from fsm.compose import schema

        weakened = schema.weakened_defences(db)
        for finding in weakened:
            stderr.print(f"{finding.key}: {finding.problem}", markup=False, highlight=False)
        if weakened:
            what = "weakened defence(s)" if weakened[0].kind == "defence_weakened" else "finding(s)"
            raise StorageError(f"{len(weakened)} {what}: {weakened[0].problem} (see above)")
        stdout.print("database at head, no drift, defences in place")

    partitions_app = typer.Typer(help="Month partitions (PostgreSQL).", no_args_is_help=True)
    db_app.add_typer(partitions_app, name="partitions")

    @partitions_app.command("ensure")
    def partitions_ensure(
        months_ahead: Annotated[int, typer.Option(
            help="Months after the current one that must exist (last month's is kept too).",
            min=1)] = 3,
        db: DbOption = None,
        fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    ) -> None:  # fmt: skip
        """Create the missing month partitions of the ledger and its side tables (as the
        tables' owner; `db upgrade` runs it too). Nothing to do on SQLite."""
        from fsm.compose import schema

        rows = [{"partition": name} for name in schema.ensure_partitions(db, months_ahead)]
        emit(rows, ("partition",), fmt, f"{len(rows)} partition(s) created")

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
        from fsm.compose import schema

        if not (runtime or sealer or auditor):
            raise typer.BadParameter("name at least one of --runtime, --sealer, --auditor")
        sql = schema.grant_statements(runtime, sealer, auditor)
        if apply:
            schema.apply_grants(db, sql)
        for statement in sql:
            stdout.print(f"{statement};", markup=False, highlight=False, soft_wrap=True)
        if apply:
            stdout.print(f"-- applied {len(sql)} statement(s)", markup=False)
