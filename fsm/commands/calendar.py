"""`tradefsm calendar`: the sessions of the exchange runs trade on, early closes marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from fsm.commands.output import Format, emit, print_json
from fsm.commands.runs import DbOption, StoreOpener

DEFAULT_DAYS = 30  # without --to: a month ahead of --from


def register(app: typer.Typer, open_reader: StoreOpener) -> None:
    @app.command("calendar")
    def sessions(
        start: Annotated[
            datetime | None,
            typer.Option("--from", formats=["%Y-%m-%d"], help="First day (default: today)."),
        ] = None,
        end: Annotated[
            datetime | None,
            typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (default: --from + 30)."),
        ] = None,
        exchange: Annotated[
            str | None, typer.Option(help="Exchange code (default: the risk policy's).")
        ] = None,
        account: Annotated[
            str | None, typer.Option(help="Whose policy names the exchange (default: paper).")
        ] = None,
        db: DbOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """The exchange's sessions from --from to --to with their open and close (UTC); an
        early close is marked. Paper and live runs trade only in these (docs/controls.md)."""
        from fsm.calendar import calendar_for, check_years
        from fsm.clock import SystemClock
        from fsm.errors import InvalidInput

        first = start.date() if start else SystemClock().now().date()
        last = end.date() if end else first + timedelta(days=DEFAULT_DAYS)
        if last < first:
            raise InvalidInput(f"--to {last} is before --from {first}")
        check_years(first, last)
        cal = calendar_for(exchange or _policy_exchange(open_reader, db, account))
        found = cal.sessions(first, last)
        title = f"{len(found)} {cal.exchange} session(s) from {first} to {last}"
        if as_json:
            print_json(
                [
                    {
                        "session": s.day.isoformat(),
                        "open": s.open.isoformat(),
                        "close": s.close.isoformat(),
                        "early_close": s.early,
                    }
                    for s in found
                ]
            )
            return
        rows = [{"session": s.day.isoformat(), "day": f"{s.day:%a}", "open_utc": f"{s.open:%H:%M}",
                 "close_utc": f"{s.close:%H:%M}", "early_close": "early close" if s.early else ""}
                for s in found]  # fmt: skip
        emit(rows, ("session", "day", "open_utc", "close_utc", "early_close"), Format.TABLE, title)


def _policy_exchange(open_reader: StoreOpener, db: str | None, account: str | None) -> str:
    """The exchange of the risk policy in force for ``account`` (TRADEFSM_EXCHANGE may only
    repeat it)."""
    from fsm.calendar import exchange_of
    from fsm.kinds import Mode
    from fsm.limits import PolicyCache, overrides_of
    from fsm.settings import load_settings

    settings = load_settings(**{k: v for k, v in {"db": db, "account_id": account}.items() if v})
    policies = PolicyCache(open_reader(settings.db), overrides_of(settings))
    return exchange_of(policies.limits(settings.account_id, None, Mode.PAPER).values)
