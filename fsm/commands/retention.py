"""`tradefsm retention plan|apply` and `tradefsm hold add|remove|list`: archiving finished
runs to evidence bundles, and the legal holds that keep runs from it
(docs/change-management.md, "Retention and legal holds")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption
from fsm.commands.output import Format, emit, print_json, stderr, stdout
from fsm.commands.runs import DbOption

AgeOption = Annotated[str, typer.Option(help="Finished at least this long ago: 6y, 90d.")]
ReasonOption = Annotated[str, typer.Option(help="Why (kept in the history).")]
RunScope = Annotated[str | None, typer.Option("--run", help="One run.")]
AccountScope = Annotated[str | None, typer.Option("--account", help="Every run of an account.")]
FormatOption = Annotated[Format, typer.Option("--format", help="table, json or csv.")]
KeysOption = Annotated[
    list[Path] | None,
    typer.Option(help="Public key(s) the bundles' digest is checked with (default: that of "
                 "TRADEFSM_AUDIT_SIGNING_KEY)."),
]  # fmt: skip
PLAN_COLUMNS = ("run_id", "account_id", "status", "ended_at", "held")


def register(app: typer.Typer) -> None:
    retention = typer.Typer(help="Archive finished runs to evidence bundles.", no_args_is_help=True)
    hold = typer.Typer(help="Legal holds: runs retention never archives.", no_args_is_help=True)
    app.add_typer(retention, name="retention")
    app.add_typer(hold, name="hold")

    @retention.command("plan")
    def plan(older_than: AgeOption, db: DbOption = None, fmt: FormatOption = Format.TABLE) -> None:
        """List the finished runs `retention apply` would archive, and the held ones it keeps."""
        from fsm.compose.archive import retention_plan

        rows = [c.as_json() for c in retention_plan(db, older_than)]
        kept = sum(1 for r in rows if r["held"])
        emit(rows, PLAN_COLUMNS, fmt, f"{len(rows) - kept} run(s) to archive, {kept} held")

    @retention.command("apply")
    def apply(
        older_than: AgeOption,
        archive: Annotated[Path, typer.Option(help="Folder the evidence bundles go to.")],
        reason: ReasonOption,
        actor: ActorOption = None,
        public_key: KeysOption = None,
        db: DbOption = None,
        fmt: FormatOption = Format.TABLE,
    ) -> None:
        """Archive finished, unheld runs: write each one's evidence bundle to --archive,
        fsync and verify it, then remove the run's rows and leave a tombstone (who, when, why,
        the run's head and the bundle's hash). The runs must be sealed (`audit seal`)."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.compose.archive import archive_runs, retention_plan
        from fsm.ledger import process_id

        settings = settings_from(db=db, actor=actor)
        chosen = retention_plan(settings.db, older_than)

        def progress(run_id: str, bundle_hash: str) -> None:
            stderr.print(f"archived {run_id}, bundle {bundle_hash}", markup=False)

        who = (settings.actor, reason, process_id())
        done = archive_runs(settings.db, chosen, archive, _keys(public_key, settings), who,
                            SystemClock().now(), progress)  # fmt: skip
        rows = [{"run_id": r, "archived": True, "bundle_hash": h, "left": None}
                for r, h in done.archived.items()]  # fmt: skip
        rows += [{"run_id": r, "archived": False, "bundle_hash": None, "left": why}
                 for r, why in done.left.items()]  # fmt: skip
        emit(
            rows,
            ("run_id", "archived", "bundle_hash", "left"),
            fmt,
            f"{len(done.archived)} run(s) archived to {archive}, {len(done.left)} left",
        )

    @retention.command("detach")
    def detach(
        month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
        apply: Annotated[bool, typer.Option(
            "--apply", help="Detach and drop its partitions (default: only check).")] = False,
        db: DbOption = None,
        fmt: FormatOption = Format.TABLE,
    ) -> None:  # fmt: skip
        """PostgreSQL: give a month's partitions back once every row in them is of an
        archived run (a tombstone) under no hold; as the tables' owner."""
        from fsm.compose.archive import detach_month

        found = detach_month(db, month, apply=apply)
        rows = [{"run_id": run_id, "keeps_month": why} for run_id, why in found.blocking.items()]
        if fmt is Format.JSON:
            print_json(found.as_json())
            return
        done = "detached" if found.detached else "can be detached" if not rows else "stays"
        emit(rows, ("run_id", "keeps_month"), fmt, f"month {found.month}: "
             f"{len(found.partitions)} partition(s), {found.rows} row(s) of {found.runs} "
             f"run(s): {done}")  # fmt: skip

    @hold.command("add")
    def hold_add(reason: ReasonOption, run: RunScope = None, account: AccountScope = None,
                 actor: ActorOption = None, db: DbOption = None,
                 as_json: JsonOption = False) -> None:  # fmt: skip
        """Put a run, or every run of an account, under legal hold: never archived."""
        _change("hold", run, account, actor, reason, db, as_json)

    @hold.command("remove")
    def hold_remove(reason: ReasonOption, run: RunScope = None, account: AccountScope = None,
                    actor: ActorOption = None, db: DbOption = None,
                    as_json: JsonOption = False) -> None:  # fmt: skip
        """Release a legal hold (the history keeps both rows)."""
        _change("release", run, account, actor, reason, db, as_json)

    @hold.command("list")
    def hold_list(db: DbOption = None, fmt: FormatOption = Format.TABLE) -> None:
        """The holds history, oldest first."""
        from fsm.compose.archive import hold_history

        rows = [h.as_json() for h in hold_history(db).holds()]
        emit(rows, ("seq", "action", "run_id", "account_id", "actor", "reason", "occurred_at"),
             fmt, f"{len(rows)} hold row(s)")  # fmt: skip


def _keys(files: list[Path] | None, settings: Any) -> list[Any]:
    from fsm.errors import InvalidConfiguration
    from fsm.keyfiles import load_private_key, load_public_key

    if files:
        return [load_public_key(f) for f in files]
    if settings.audit_signing_key is None:
        raise InvalidConfiguration("no key to verify the bundles with: pass --public-key or set "
                                   "TRADEFSM_AUDIT_SIGNING_KEY")  # fmt: skip
    return [load_private_key(settings.audit_signing_key).public_key()]


def _change(action: Any, run: str | None, account: str | None, actor: str | None, reason: str,
            db: str | None, as_json: bool) -> None:  # fmt: skip
    from fsm.clock import SystemClock
    from fsm.commands.embedded import settings_from
    from fsm.compose.archive import hold_history
    from fsm.holds import change
    from fsm.ledger import process_id

    settings = settings_from(db=db, actor=actor)
    row = change(hold_history(settings.db), action, run, account, settings.actor, reason,
                 process_id(), SystemClock().now())  # fmt: skip
    if as_json:
        print_json(row.as_json())
    else:
        stdout.print(row.said(), markup=False, highlight=False)
