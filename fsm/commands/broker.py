"""`tradefsm broker check`: can tradefsm reach the configured broker, and which one is it."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.output import print_json, stdout


def register(app: typer.Typer) -> None:
    broker = typer.Typer(help="The broker orders go to (TRADEFSM_BROKER).", no_args_is_help=True)
    app.add_typer(broker, name="broker")

    @broker.command("check")
    def check(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Connect with the configured credentials; print the account (redacted), its buying
        power and whether the endpoint is paper or live. Exit 0, or 2 when refused."""
        from fsm.adapters.alpaca import AlpacaBroker
        from fsm.commands.embedded import broker_of, settings_from
        from fsm.errors import BrokerRejected, InvalidConfiguration

        settings = settings_from()
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
        if as_json:
            print_json(facts)
            return
        stdout.print(f"{facts['broker']} account {facts['account']} at {facts['endpoint']} "
                     f"({facts['kind']}): buying power ${facts['buying_power']}",
                     markup=False, highlight=False)  # fmt: skip
