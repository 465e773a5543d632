"""`tradefsm approve|reject`: four eyes on plans that wait for a person, optionally signed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption
from fsm.commands.runs import DbOption, KeysOpener, StoreOpener

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the ledger).")]
KeyOption = Annotated[
    Path | None,
    typer.Option(help="Sign the decision with this Ed25519 private key; its public key must "
                 "be registered for --actor (`tradefsm keys add`)."),
]  # fmt: skip


def register(app: typer.Typer, open_store: StoreOpener, open_keys: KeysOpener) -> None:
    def decide(decision: str, run_id: str, actor: str | None, reason: str, db: str | None,
               key: Path | None, as_json: bool) -> None:  # fmt: skip
        from fsm.commands import embedded as e
        from fsm.keyfiles import load_private_key
        from fsm.signatures import sign

        settings = e.settings_from(db=db, actor=actor)
        private = load_private_key(key) if key is not None else None
        store = open_store(settings.db)
        full_id = e.full_id(store, run_id)
        with e.Progress(enabled=not as_json) as observer, e.stop_on_signals() as stop:
            engine = e.build_engine(settings, store, None, observer, stop=stop,
                                    approvers=open_keys(settings.db, False))  # fmt: skip
            signature = None if private is None else sign(
                private, store.ledger(full_id), decision, settings.actor, reason, engine.clock.now()
            )  # fmt: skip
            act = engine.approve if decision == "approve" else engine.reject
            result = act(full_id, actor=settings.actor, reason=reason, signature=signature)
        e.report(store, result, as_json)
        if decision == "reject" and (result.failure or {}).get("error_type") == "Rejected":
            raise typer.Exit(0)  # what was asked is done: the run ended, rejected
        raise e.exit_for(result)

    @app.command()
    def approve(
        run_id: str,
        reason: ReasonOption,
        actor: ActorOption = None,
        key: KeyOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Let a waiting plan execute (someone other than its requester; prices still fresh;
        signed with --key when TRADEFSM_REQUIRE_SIGNED_APPROVALS is set or in live mode).

        The run then executes in this command: exit 0 done, 1 failed.
        """
        decide("approve", run_id, actor, reason, db, key, as_json)

    @app.command()
    def reject(
        run_id: str,
        reason: ReasonOption,
        actor: ActorOption = None,
        key: KeyOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Refuse a waiting plan: the run ends failed with your name and reason (exit 0 once
        the rejection is recorded, as for cancel)."""
        decide("reject", run_id, actor, reason, db, key, as_json)
