"""`tradefsm paper orders|positions|reset`: look inside the embedded paper broker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.commands.output import Format, emit, stdout
from fsm.errors import InvalidInput

if TYPE_CHECKING:
    from fsm.adapters.paper_broker import PaperBroker

PaperDbOption = Annotated[
    Path | None,
    typer.Option("--paper-db", help="Paper broker file (default: TRADEFSM_PAPER_DB)."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table or json.")]


AccountOption = Annotated[
    str | None, typer.Option("--account", help="Paper account (default: TRADEFSM_ACCOUNT_ID).")
]


def open_paper(
    path: Path | None, account: str | None = None, *, read_only: bool = False
) -> PaperBroker:
    from fsm.adapters.paper_broker import PaperBroker
    from fsm.settings import load_settings

    # An --account given is checked as TRADEFSM_ACCOUNT_ID is: an empty one is refused, not
    # taken for the default account.
    settings = load_settings(**({} if account is None else {"account_id": account}))
    return PaperBroker(path or settings.paper_db, account_id=settings.account_id,
                       read_only=read_only)  # fmt: skip


def register(app: typer.Typer) -> None:
    paper = typer.Typer(help="The embedded paper broker.", no_args_is_help=True)
    app.add_typer(paper, name="paper")

    @paper.command("orders")
    def orders(
        paper_db: PaperDbOption = None, account: AccountOption = None,
        fmt: FormatOption = Format.TABLE,
    ) -> None:  # fmt: skip
        """Every order the paper broker received for the account, oldest first."""
        broker = open_paper(paper_db, account, read_only=True)
        rows = [o.model_dump(mode="json") for o in broker.orders()]
        columns = ("client_order_id", "symbol", "side", "qty", "filled_qty", "avg_price", "status")
        emit(rows, columns, fmt, f"{len(rows)} paper order(s)")

    @paper.command("positions")
    def positions(
        paper_db: PaperDbOption = None, account: AccountOption = None,
        fmt: FormatOption = Format.TABLE,
    ) -> None:  # fmt: skip
        """Cash and positions of the paper account."""
        snapshot = open_paper(paper_db, account, read_only=True).account()
        rows = [p.model_dump(mode="json") for p in snapshot.positions]
        emit(
            rows,
            ("symbol", "qty"),
            fmt,
            f"positions of {snapshot.account_id} (cash ${snapshot.cash})",
        )

    @paper.command("reset")
    def reset(
        paper_db: PaperDbOption = None,
        account: AccountOption = None,
        cash: Annotated[
            str | None,
            typer.Option(
                help="Starting cash in dollars, 0 to 1000000000000 (default: 100000).",
            ),
        ] = None,
        every_account: Annotated[
            bool, typer.Option("--all", help="Every account in the file (needs --yes).")
        ] = False,
        yes: Annotated[bool, typer.Option("--yes", help="Confirm --all.")] = False,
    ) -> None:
        """Forget one paper account's orders and positions and give it CASH dollars again."""
        if every_account and not yes:
            raise InvalidInput("--all forgets every account in the paper file: add --yes")
        from fsm.adapters.paper_broker import DEFAULT_CASH, cash_amount

        dollars = DEFAULT_CASH if cash is None else cash_amount(cash, "--cash")
        broker = open_paper(paper_db, account)
        broker.reset(dollars, every_account=every_account)
        which = "every account" if every_account else f"account {broker.account_id}"
        stdout.print(f"paper {which} reset in {broker.path}: cash ${dollars}, no positions",
                     markup=False)  # fmt: skip
