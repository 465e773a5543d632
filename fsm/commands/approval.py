"""`tradefsm approve|reject`: four eyes on plans that wait for a person."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption, embedded
from fsm.commands.runs import DbOption, StoreOpener

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the ledger).")]


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    def decide(decision: str, run_id: str, actor: str | None, reason: str, db: str | None,
               as_json: bool) -> None:  # fmt: skip
        e = embedded()
        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        full_id = e.full_id(store, run_id)
        with e.Progress(enabled=not as_json) as observer, e.stop_on_signals() as stop:
            engine = e.build_engine(settings, store, None, observer, stop=stop)
            act = engine.approve if decision == "approve" else engine.reject
            result = act(full_id, actor=settings.actor, reason=reason)
        e.report(store, result, as_json)
        raise e.exit_for(result)

    @app.command()
    def approve(
        run_id: str,
        reason: ReasonOption,
        actor: ActorOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Let a waiting plan execute (someone other than its requester; prices still fresh).

        The run then executes in this command: exit 0 done, 1 failed.
        """
        decide("approve", run_id, actor, reason, db, as_json)

    @app.command()
    def reject(
        run_id: str,
        reason: ReasonOption,
        actor: ActorOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Refuse a waiting plan: the run ends failed with your name and reason."""
        decide("reject", run_id, actor, reason, db, as_json)
