"""`tradefsm runs list|show`: what ran, and everything a run recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.commands.output import RUN_COLUMNS, RUN_CSV_COLUMNS, Format, emit, print_json
from fsm.errors import InvalidInput
from fsm.kinds import Mode, RunStatus

if TYPE_CHECKING:
    from fsm.keyregistry import ApproverKeys
    from fsm.ports import RunStore

StoreOpener = Callable[[str | None], "RunStore"]
KeysOpener = Callable[[str | None, bool], "ApproverKeys"]  # (db, read_only) → key registry
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: TRADEFSM_DB or ./tradefsm.db).")
]


QUEUED = RunStatus.QUEUED.value  # the state the listing shows for a run no worker started


def _known_state(value: str | None) -> str | None:
    from fsm.definition import trading_definition

    states = (*trading_definition().states, QUEUED)
    if value is not None and value not in states:
        raise typer.BadParameter(f"{value!r} is not a state: one of {', '.join(states)}")
    return value


class ShowFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer, open_store: StoreOpener, open_keys: KeysOpener) -> typer.Typer:
    """Add `runs list|show|watch`; the group, for the commands other modules add to it."""
    runs = typer.Typer(help="List runs and show what one run recorded.", no_args_is_help=True)
    app.add_typer(runs, name="runs")

    @runs.command("list")
    def list_runs(
        db: DbOption = None,
        account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
        state: Annotated[
            str | None,
            typer.Option(
                callback=_known_state,
                help="Only runs in this state (queued: no worker started it).",
            ),
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
        stranded: Annotated[
            bool,
            typer.Option(
                "--stranded",
                help="Only unfinished runs pinned to another machine definition "
                "than this tradefsm's (nothing drives them until `runs migrate`).",
            ),
        ] = False,
    ) -> None:
        """List runs, newest first (ids are shortened: any unique prefix is accepted back)."""
        from fsm.machines.specs import TRADING_SPECS
        from fsm.ports import RunFilter

        if state == QUEUED:  # a queued run's status, as the listing prints it
            if status not in (None, RunStatus.QUEUED):
                raise InvalidInput(f"--state queued and --status {status.value} exclude each other")
            state, status = None, RunStatus.QUEUED
        query = RunFilter(account, state, status and status.value, mode and mode.value,
                          _utc(since), _utc(until), limit,
                          stranded_from=TRADING_SPECS.definition.definition_hash if stranded
                          else None)  # fmt: skip
        store = open_store(db)
        rows = [r.model_dump(mode="json") for r in store.list_runs(query)]
        if fmt is Format.CSV:
            from fsm.display import run_csv_row

            emit([run_csv_row(r) for r in rows], RUN_CSV_COLUMNS, fmt, "")
            return
        if fmt is Format.JSON:
            emit(rows, RUN_COLUMNS, fmt, "")
            return
        from fsm.commands.showing import print_halts, print_runs
        from fsm.halts import in_force

        print_halts(in_force(store.halts(), account))
        print_runs(rows, no_trunc=no_trunc)

    @runs.command("show")
    def show(
        run_id: Annotated[str, typer.Argument(help="A run id, or any unique prefix of it.")],
        db: DbOption = None,
        fmt: Annotated[ShowFormat, typer.Option("--format")] = ShowFormat.TABLE,
    ) -> None:
        """Show a run: what it is, the inputs it decided on, its ledger with each guard's
        decision, and its orders."""
        from fsm.commands.showing import print_details
        from fsm.runids import resolve_run_id
        from fsm.views import run_details

        store = open_store(db)
        full_id = resolve_run_id(store.run_ids_starting, run_id)
        details = run_details(store, full_id, open_keys(db, True))
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
        from fsm.commands.showing import WATCH_EXIT, print_transition
        from fsm.follow import follow
        from fsm.runids import resolve_run_id

        store = open_store(db)
        full_id = resolve_run_id(store.run_ids_starting, run_id)
        run = follow(store, full_id, interval, timeout, print_transition)
        raise typer.Exit(WATCH_EXIT.get(run.state, 0))

    return runs


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
