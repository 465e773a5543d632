"""`tradefsm definitions [diff]` and `tradefsm runs migrate`: the machine definitions runs are
pinned to, what changed between two of them, and moving stranded runs to the code's one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption
from fsm.commands.output import print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.errors import InvalidInput

if TYPE_CHECKING:
    from fsm.ports import RunStore

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the ledger).")]


def register(app: typer.Typer, runs: typer.Typer, open_reader: StoreOpener,
             open_store: StoreOpener) -> None:  # fmt: skip
    group = typer.Typer(invoke_without_command=True)
    app.add_typer(group, name="definitions")

    @group.callback()
    def definitions(ctx: typer.Context, db: DbOption = None, as_json: JsonOption = False) -> None:
        """List the stored machine definitions with their runs by status, and which one this
        tradefsm runs (`current`); unfinished runs of another one are stranded."""
        if ctx.invoked_subcommand is not None:
            return
        from fsm.machines.specs import TRADING_SPECS

        current = TRADING_SPECS.definition.definition_hash
        rows: list[dict[str, Any]] = [
            {"definition_hash": name, "current": name == current, "runs": sum(by.values()),
             "unfinished": by.get("active", 0) + by.get("queued", 0), "by_status": by}
            for name, by in sorted(open_reader(db).definition_runs().items())
        ]  # fmt: skip
        if as_json:
            print_json(rows)
            return
        for row in rows:
            mark = "current" if row["current"] else f"{row['unfinished']} stranded"
            stdout.print(f"{row['definition_hash'][:16]}  {row['runs']:>6} run(s)  {mark}",
                         markup=False, highlight=False)  # fmt: skip

    @group.command("diff")
    def diff(
        old: Annotated[str, typer.Argument(help="A definition hash, or a unique prefix.")],
        new: Annotated[str, typer.Argument(help="A definition hash, or a unique prefix.")],
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Show the states, events, guards and transitions added, removed or changed."""
        from fsm.definitiondiff import definition_diff, diff_lines

        store = open_reader(db)
        before, after = (store.definition(_named(store, h)).canonical for h in (old, new))
        changes = definition_diff(before, after)
        if as_json:
            print_json(changes)
            return
        for line in diff_lines(changes):
            stdout.print(line, markup=False, highlight=False)

    @runs.command("migrate")
    def migrate(
        to: Annotated[str, typer.Option("--to", help="The current definition's hash or prefix.")],
        reason: ReasonOption,
        run_id: Annotated[
            str | None, typer.Argument(help="A run id, or a unique prefix (or --all-compatible).")
        ] = None,
        actor: ActorOption = None,
        all_compatible: Annotated[
            bool,
            typer.Option(
                "--all-compatible", help="Every stranded run that is safe to move; report the rest."
            ),
        ] = False,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Move a stranded run to the definition this tradefsm runs, when safe: its state
        exists there, every event left to it is defined, its checkpoints are of a schema its
        state's step accepts. One ledgered row names both hashes, you and your reason; an
        unsafe move is refused (exit 12) with the reason and writes nothing."""
        from fsm.clock import SystemClock
        from fsm.machines.specs import TRADING_SPECS
        from fsm.migration import Migration

        if (run_id is None) == (not all_compatible):
            raise InvalidInput("name one run or give --all-compatible")
        current = TRADING_SPECS.definition.definition_hash
        if not to or not current.startswith(to.lower()):
            raise InvalidInput(f"--to {to!r} is not the definition this tradefsm runs: "
                               f"--to {current[:12]}")  # fmt: skip
        from fsm.commands.embedded import full_id, settings_from

        settings = settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        moving = Migration(store, TRADING_SPECS, SystemClock(), settings.actor, reason)
        if all_compatible:
            moved, refused = moving.all_compatible()
        else:
            moved, refused = [moving.run(full_id(store, run_id or ""))], {}
        said = {"to": current, "migrated": [r.run_id for r in moved], "refused": refused}
        if as_json:
            print_json(said)
        else:
            for run in moved:
                stdout.print(f"run {run.run_id} migrated to {current[:12]} by {settings.actor} "
                             f"in {run.state}", markup=False, highlight=False)  # fmt: skip
            for name, problems in refused.items():
                stdout.print(f"run {name} not migrated: {'; '.join(problems)}", markup=False,
                             highlight=False)  # fmt: skip
        raise typer.Exit(12 if refused else 0)


def _named(store: RunStore, prefix: str) -> str:
    """The stored definition hash ``prefix`` starts; InvalidInput if none or several."""
    found = [h for h in store.definition_runs() if h.startswith(prefix.lower())]
    if len(found) != 1:
        which = "no stored definition" if not found else f"{len(found)} stored definitions"
        raise InvalidInput(f"{which} start(s) with {prefix!r}: `tradefsm definitions` lists them")
    return found[0]
