"""`tradefsm keys add|list`: the approvers' public keys signed approvals are checked against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fsm.commands.output import Format, emit, print_json, stdout
from fsm.commands.runs import DbOption, KeysOpener

LIST_COLUMNS = ("seq", "actor", "fingerprint", "added_by", "added_at")


def register(app: typer.Typer, open_keys: KeysOpener) -> None:
    keys = typer.Typer(help="Approvers' public keys for signed approvals.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("add")
    def add(
        actor: Annotated[str, typer.Option(help="The approver whose key this is.")],
        public_key: Annotated[
            Path, typer.Option(help="Their Ed25519 public key (PEM, as `audit keygen` writes).")
        ],
        by: Annotated[
            str | None,
            typer.Option(
                help="Who registers it, someone other than the approver (default: "
                "TRADEFSM_ACTOR, else the OS user)."
            ),
        ] = None,
        db: DbOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the row as JSON.")] = False,
    ) -> None:
        """Register an approver's public key (append-only, hash-chained; `audit verify`
        checks the chain and every signed approval against it)."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.keyfiles import load_public_key

        key = load_public_key(public_key)
        admin = settings_from(db=db, actor=by).actor
        row = open_keys(db, False).add(actor, key, admin, SystemClock().now())
        if as_json:
            print_json(row.as_json())
            return
        stdout.print(f"key {row.fingerprint} registered for {row.actor} by {row.added_by} "
                     f"(row {row.seq})", markup=False, highlight=False)  # fmt: skip

    @keys.command("list")
    def list_keys(
        db: DbOption = None,
        fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    ) -> None:
        """Every registered key, oldest first: whose, which fingerprint, added by whom, when."""
        rows = [k.as_json() for k in open_keys(db, True).registered()]
        shown = rows if fmt is Format.JSON else [
            {c: r[c] for c in LIST_COLUMNS} for r in rows
        ]  # fmt: skip
        emit(shown, LIST_COLUMNS, fmt, f"{len(rows)} approver key(s)")
