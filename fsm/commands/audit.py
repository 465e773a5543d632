"""`tradefsm audit …`: who or what moved a run, when, why, on which inputs — and proof."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.audit import TIMING_COLUMNS, AuditFilter, AuditQueries
from fsm.commands import integrity
from fsm.commands.output import (
    ForceOption,
    Format,
    OutputOption,
    emit,
    print_json,
    stdout,
    write_output,
)
from fsm.commands.runs import DbOption, StoreOpener
from fsm.runids import resolve_run_id

AuditOpener = Callable[[str | None], AuditQueries]
FormatOption = Annotated[Format, typer.Option("--format", help="table, json or csv.")]
Since = Annotated[datetime | None, typer.Option(help="At or after this UTC time.")]
Until = Annotated[datetime | None, typer.Option(help="Before this UTC time.")]
Limit = Annotated[int, typer.Option(min=1, max=1_000_000, help="At most this many rows.")]
TRANSITION_COLUMNS = (
    "occurred_at", "run_id", "seq", "event", "source", "target", "accepted", "actor",
    "account_id", "error_type", "error_message",
)  # fmt: skip
EvidenceOption = Annotated[
    Path | None,
    typer.Option("--bundle", help="Write a self-verifying evidence bundle into this new folder."),
]
REJECTED_COLUMNS = ("occurred_at", "run_id", "seq", "event", "source", "guard", "reason", "actor")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def register(app: typer.Typer, open_audit: AuditOpener, open_reader: StoreOpener,
             seal_now: integrity.Sealer) -> None:  # fmt: skip
    audit = typer.Typer(help="Compliance queries and tamper checks.", no_args_is_help=True)
    app.add_typer(audit, name="audit")
    integrity.register(audit, open_audit, seal_now)

    def full(queries: AuditQueries, run: str | None) -> str | None:
        return resolve_run_id(queries.run_ids_starting, run) if run is not None else None

    def filters(**kw: Any) -> AuditFilter:
        kw["since"], kw["until"] = _utc(kw["since"]), _utc(kw["until"])
        return AuditFilter(**kw)

    @audit.command("transitions")
    def transitions(
        db: DbOption = None,
        run: Annotated[str | None, typer.Option(help="Only this run.")] = None,
        account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
        event: Annotated[str | None, typer.Option(help="Only this event.")] = None,
        state: Annotated[str | None, typer.Option(help="Rows leaving or entering it.")] = None,
        actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
        since: Since = None,
        until: Until = None,
        rejected: Annotated[bool, typer.Option(help="Only refused transitions.")] = False,
        limit: Limit = 1000,
        fmt: FormatOption = Format.TABLE,
    ) -> None:
        """Ledger rows, newest first, with guard decisions (in json)."""
        queries = open_audit(db)
        query = filters(run_id=full(queries, run), account_id=account, event=event, state=state,
                        actor=actor, since=since, until=until, rejected=rejected,
                        limit=limit)  # fmt: skip
        rows = queries.transitions(query)
        emit(rows, TRANSITION_COLUMNS, fmt, f"{len(rows)} transition(s)")

    @audit.command("rejected")
    def rejected(
        db: DbOption = None,
        run: Annotated[str | None, typer.Option(help="Only this run.")] = None,
        account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 1000,
        fmt: FormatOption = Format.TABLE,
    ) -> None:
        """Every refused transition with the guard that refused it and why."""
        queries = open_audit(db)
        query = filters(run_id=full(queries, run), account_id=account, since=since, until=until,
                        limit=limit)  # fmt: skip
        rows = queries.rejected(query)
        emit(rows, REJECTED_COLUMNS, fmt, f"{len(rows)} refused transition(s)")

    @audit.command("time-in-state")
    def time_in_state(
        db: DbOption = None, since: Since = None, until: Until = None,
        fmt: FormatOption = Format.TABLE,
    ) -> None:  # fmt: skip
        """How long runs stayed in each state, in the chart's order: p50, p95 and max, in
        milliseconds, counting the active runs still in a state up to now (`still`), with the
        run of the longest stay."""
        from fsm.clock import SystemClock

        timings = open_audit(db).time_in_state(_utc(since), _utc(until), SystemClock().now())
        emit([asdict(t) for t in timings], TIMING_COLUMNS, fmt, "time in state")

    @audit.command("orders")
    def orders(
        db: DbOption = None,
        by: Annotated[str, typer.Option(help="run or definition (guard version).")] = "run",
        since: Since = None,
        until: Until = None,
        limit: Limit = 1000,
        fmt: FormatOption = Format.TABLE,
    ) -> None:
        """Orders sent per run, or per machine definition (the guards that allowed them)."""
        if by not in ("run", "definition"):
            raise typer.BadParameter("--by must be run or definition")
        rows = open_audit(db).orders(by, _utc(since), _utc(until), limit)  # type: ignore[arg-type]
        key = "run" if by == "run" else "definition_hash"
        emit(rows, (key, "runs", "orders", "filled"), fmt, f"orders per {by}")

    @audit.command("export")
    def export(
        run: Annotated[str, typer.Option(help="The run to export.")],
        db: DbOption = None,
        output: OutputOption = None,
        force: ForceOption = False,
        evidence: EvidenceOption = None,
    ) -> None:
        """One JSON bundle: run, ledger, checkpoints, intents, definition, diagram, verification;
        with --bundle, a folder `audit verify-bundle` checks offline."""
        queries = open_audit(db)
        run_id = resolve_run_id(queries.run_ids_starting, run)
        if evidence is not None:
            if output is not None:
                raise typer.BadParameter("--bundle and --output go apart")
            files = queries.export_evidence(run_id, evidence)
            stdout.print(f"evidence bundle of run {run_id}: {len(files)} files in {evidence}",
                         markup=False)  # fmt: skip
            return
        from fsm.views import export_bundle, export_json

        bundle = export_bundle(open_reader(db), run_id, queries.verify(run_id).as_json())
        if output is None:
            print_json(bundle)
            return

        write_output(output, export_json(bundle), force=force)
        stdout.print(f"exported run {run} to {output}")
