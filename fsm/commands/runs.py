"""`tradefsm runs list|show`: what ran, and everything a run recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.panel import Panel

from fsm.commands.output import RUN_COLUMNS, Format, compact, emit, print_json, stdout
from fsm.definition import trading_definition
from fsm.display import inputs_summary, ledger_row, order_row, run_row, when, when_time
from fsm.follow import follow
from fsm.ports import RunFilter, RunStore
from fsm.records import LedgerEntry, Mode, RunStatus
from fsm.views import resolve_run_id, run_details

StoreOpener = Callable[[str | None], RunStore]
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: TRADEFSM_DB or ./tradefsm.db).")
]


STATES = trading_definition().states


def _known_state(value: str | None) -> str | None:
    if value is not None and value not in STATES:
        raise typer.BadParameter(f"{value!r} is not a state: one of {', '.join(STATES)}")
    return value


LIST_COLUMNS = ("id", "state", "account", "mode", "created", "took", "failure")
# (min, max) widths that keep a run on one line of an 80-column terminal
LIST_WIDTHS = {"id": (12, 12), "state": (6, 17), "account": (7, 14), "mode": (5, 12),
               "created": (16, 16), "took": (4, 8), "failure": (7, 60)}  # fmt: skip
LEDGER_COLUMNS = ("seq", "at", "transition", "guards", "took")  # the failure is shown above
ORDER_COLUMNS = ("order", "side", "symbol", "qty", "price", "filled", "status")


class ShowFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    runs = typer.Typer(help="List runs and show what one run recorded.", no_args_is_help=True)
    app.add_typer(runs, name="runs")

    @runs.command("list")
    def list_runs(
        db: DbOption = None,
        account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
        state: Annotated[
            str | None, typer.Option(callback=_known_state, help="Only runs in this state.")
        ] = None,
        status: Annotated[
            RunStatus | None, typer.Option(help="Only runs with this status.")
        ] = None,
        mode: Annotated[Mode | None, typer.Option(help="Only runs in this mode.")] = None,
        since: Annotated[datetime | None, typer.Option(help="Created at or after (UTC).")] = None,
        until: Annotated[datetime | None, typer.Option(help="Created before (UTC).")] = None,
        limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
        no_trunc: Annotated[
            bool, typer.Option("--no-trunc", help="Full ids and messages.")
        ] = False,
        fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    ) -> None:
        """List runs, newest first (ids are shortened: any unique prefix is accepted back)."""
        query = RunFilter(account, state, status and status.value, mode and mode.value,
                          _utc(since), _utc(until), limit)  # fmt: skip
        rows = [r.model_dump(mode="json") for r in open_store(db).list_runs(query)]
        if fmt is not Format.TABLE:
            emit(rows, RUN_COLUMNS, fmt, "")
            return
        shown = [run_row(r, full_ids=no_trunc) for r in rows]
        stdout.print(compact(shown, LIST_COLUMNS, f"{len(rows)} run(s)", wrap=no_trunc,
                             widths=LIST_WIDTHS))  # fmt: skip

    @runs.command("show")
    def show(
        run_id: Annotated[str, typer.Argument(help="A run id, or any unique prefix of it.")],
        db: DbOption = None,
        fmt: Annotated[ShowFormat, typer.Option("--format")] = ShowFormat.TABLE,
    ) -> None:
        """Show a run: what it is, the inputs it decided on, its ledger with each guard's
        decision, and its orders."""
        store = open_store(db)
        details = run_details(store, resolve_run_id(store.run_ids_starting, run_id))
        if fmt is ShowFormat.JSON:
            print_json(details)
            return
        print_details(details)

    @runs.command("watch")
    def watch(
        run_id: Annotated[str, typer.Argument(help="A run id, or any unique prefix of it.")],
        db: DbOption = None,
        interval: Annotated[float, typer.Option(min=0.05, help="Seconds between looks.")] = 0.5,
        timeout: Annotated[
            float | None, typer.Option(min=0, help="Stop watching after this many seconds.")
        ] = None,
    ) -> None:
        """Print a run's transitions as they are committed, by any process, until it ends
        or parks for approval; exit 0 done, 1 failed, 9 waiting for approval."""
        store = open_store(db)
        full_id = resolve_run_id(store.run_ids_starting, run_id)
        run = follow(store, full_id, interval, timeout, _print_transition)
        raise typer.Exit(WATCH_EXIT.get(run.state, 0))


WATCH_EXIT = {"failed": 1, "awaiting_approval": 9}


def _print_transition(entry: LedgerEntry) -> None:
    row = ledger_row(entry.model_dump(mode="json"))
    move = row["transition"].replace("\n", ": ", 1)
    guards = "; ".join(row["guards"].splitlines()) if row["guards"] != "—" else ""
    line = f"{row['at']}  {row['seq']:>3}  {move}" + (f"  [{guards}]" if guards else "")
    stdout.print(line + (f"  {row['error']}" if row["error"] else ""), markup=False,
                 highlight=False)  # fmt: skip


def print_details(details: dict[str, Any]) -> None:
    """`runs show` for people: a summary panel, inputs, ledger, attempts and orders."""
    run = details["run"]
    failure = run["failure"]
    lines = [
        f"state      {run['state']} ({run['status']})",
        f"account    {run['account_id']}   mode {run['mode']}   as of {run['as_of']}",
        f"created    {when(run['created_at'])} UTC by {details['requested_by']}",
        f"updated    {when(run['updated_at'])} UTC   version {run['version']}",
        f"definition {run['definition_hash'][:16]}",
    ]
    if failure:
        lines.append(f"failure    {failure['error_type']} in {failure['stage']}: "
                     f"{failure['message']}")  # fmt: skip
    if details["resume_policy"]:
        policy = details["resume_policy"]
        lines.append(f"on resume  {policy['on_resume']} ({policy['note']})")
    panel = Panel("\n".join(lines), title=f"run {run['run_id']}", title_align="left",
                  expand=False)  # fmt: skip
    stdout.print(panel, markup=False, highlight=False)
    inputs = inputs_summary(details["checkpoints"])
    if inputs:
        stdout.print("inputs", style="bold")
        for line in inputs:
            stdout.print(f"  {line}", markup=False, highlight=False, soft_wrap=False)
    ledger = [ledger_row(e) | {"at": when_time(e["occurred_at"])} for e in details["ledger"]]
    stdout.print(compact(ledger, _filled(ledger, LEDGER_COLUMNS), "ledger (UTC)", wrap=True))
    orders = [order_row(o) for o in details["orders"]]
    if orders:
        stdout.print(compact(orders, _filled(orders, ORDER_COLUMNS), "orders", wrap=True))


def _filled(rows: list[dict[str, str]], columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns with something to show: an empty error column costs a narrow terminal."""
    return tuple(c for c in columns if any(row.get(c) for row in rows))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
