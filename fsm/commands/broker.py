"""`tradefsm broker check`: can tradefsm reach the configured broker, and which one is it."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.output import print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener


def register(app: typer.Typer, open_reader: StoreOpener) -> None:
    broker = typer.Typer(help="The broker orders go to (TRADEFSM_BROKER).", no_args_is_help=True)
    app.add_typer(broker, name="broker")

    @broker.command("check")
    def check(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
        db: DbOption = None,
    ) -> None:
        """Connect with the configured credentials; print the account (redacted), its buying
        power, whether the endpoint is paper or live, and any halt of the account in the run
        database (`tradefsm halt`). Exit 0, or 2 when refused."""
        from fsm.adapters.alpaca import AlpacaBroker
        from fsm.commands.embedded import settings_from
        from fsm.errors import BrokerRejected, InvalidConfiguration
        from fsm.pluginports import broker_of

        settings = settings_from(db=db)
        found = broker_of(settings, settings.account_id)
        kind = "live" if settings.live_endpoint else "paper"
        if isinstance(found, AlpacaBroker):
            try:
                facts = found.describe() | {"broker": "alpaca", "kind": kind}
            except BrokerRejected as exc:
                raise InvalidConfiguration(
                    f"Alpaca refused the credentials: {exc.message}"
                ) from exc
        else:
            snapshot = found.account()
            facts = {"broker": "paper", "kind": "paper", "account": snapshot.account_id,
                     "buying_power": str(snapshot.buying_power), "cash": str(snapshot.cash),
                     "endpoint": str(settings.paper_db)}  # fmt: skip
        halted = _halted(open_reader, settings.db, settings.account_id)
        if as_json:
            print_json(facts | {"halted": halted})
            return
        for line in halted or ():
            stdout.print(f"TRADING HALTED: {line}", style="bold red", markup=False,
                         highlight=False)  # fmt: skip
        stdout.print(f"{facts['broker']} account {facts['account']} at {facts['endpoint']} "
                     f"({facts['kind']}): buying power ${facts['buying_power']}",
                     markup=False, highlight=False)  # fmt: skip


def _halted(open_reader: StoreOpener, db: str, account_id: str) -> list[str] | None:
    """The halts of ``account_id`` in force in the run database; None when it cannot be read
    (no database yet: the broker is checked all the same)."""
    from fsm.errors import StorageError
    from fsm.halts import in_force

    try:
        return [h.said() for h in in_force(open_reader(db).halts(), account_id)]
    except StorageError:
        return None
