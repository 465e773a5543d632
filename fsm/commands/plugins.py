"""`tradefsm plugins`: the strategies, market data and brokers installed, with versions."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.output import print_json, stdout


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def list_plugins(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """List the installed strategy, market data and broker plugins (entry points), each
        with the distribution that declared it and its version, and which ones the settings
        select (TRADEFSM_STRATEGY, TRADEFSM_MARKET_DATA, TRADEFSM_BROKER)."""
        from fsm.commands.embedded import settings_from
        from fsm.plugins import BROKERS, GROUPS, MARKET_DATA, STRATEGIES, installed

        settings = settings_from()
        chosen = {STRATEGIES: settings.strategy, MARKET_DATA: settings.market_data,
                  BROKERS: settings.broker}  # fmt: skip
        rows = [p.as_json() | {"selected": chosen[p.group] == p.name}
                for group in GROUPS for p in installed(group)]  # fmt: skip
        if as_json:
            print_json(rows)
            return
        for row in rows:
            mark = "*" if row["selected"] else " "
            stdout.print(
                f"{mark} {row['group']:<22} {row['name']:<16} {row['distribution']} "
                f"{row['version']}  ({row['target']})",
                markup=False,
                highlight=False,
            )
