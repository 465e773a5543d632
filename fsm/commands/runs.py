"""`tradefsm runs list|show`: what ran, and everything a run recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.panel import Panel

from fsm.commands.output import (
    LEDGER_COLUMNS,
    ORDER_COLUMNS,
    RUN_COLUMNS,
    Format,
    emit,
    print_json,
    stdout,
    table,
)
from fsm.ports import RunFilter, RunStore
from fsm.views import run_details

StoreOpener = Callable[[str | None], RunStore]
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: TRADEFSM_DB or ./tradefsm.db).")
]


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    runs = typer.Typer(help="List runs and show what one run recorded.", no_args_is_help=True)
    app.add_typer(runs, name="runs")

    @runs.command("list")
    def list_runs(
        db: DbOption = None,
        account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
        state: Annotated[str | None, typer.Option(help="Only runs in this state.")] = None,
        status: Annotated[str | None, typer.Option(help="active, done or failed.")] = None,
        mode: Annotated[
            str | None, typer.Option(help="paper, live, dry-run, signals-only.")
        ] = None,
        since: Annotated[datetime | None, typer.Option(help="Created at or after (UTC).")] = None,
        until: Annotated[datetime | None, typer.Option(help="Created before (UTC).")] = None,
        limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
        fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    ) -> None:
        """List runs, newest first."""
        query = RunFilter(account, state, status, mode, _utc(since), _utc(until), limit)
        rows = [r.model_dump(mode="json") for r in open_store(db).list_runs(query)]
        emit(rows, RUN_COLUMNS, fmt, f"{len(rows)} run(s)")

    @runs.command("show")
    def show(
        run_id: str,
        db: DbOption = None,
        fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
    ) -> None:
        """Show a run: its row, ledger, checkpoints and orders."""
        details = run_details(open_store(db), run_id)
        if fmt is not Format.TABLE:
            print_json(details)
            return
        run = details["run"]
        summary = "\n".join(f"{k}: {run[k]}" for k in (*RUN_COLUMNS, "result", "failure"))
        if details["resume_policy"]:
            policy = details["resume_policy"]
            summary += f"\non resume: {policy['on_resume']} ({policy['note']})"
        stdout.print(Panel(summary, title=f"run {run_id}"))
        stdout.print(table(details["ledger"], LEDGER_COLUMNS, "ledger"))
        checkpoints = [
            {"seq": c["seq"], "state": c["state"], "schema_version": c["schema_version"]}
            for c in details["checkpoints"]
        ]
        stdout.print(table(checkpoints, ("seq", "state", "schema_version"), "checkpoints"))
        stdout.print(table(details["orders"], ORDER_COLUMNS, "orders"))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
