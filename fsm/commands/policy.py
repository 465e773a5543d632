"""`tradefsm policy show|history|set|apply|approve`: the risk policy, as audited data."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption
from fsm.commands.output import Format, emit, print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.errors import InvalidInput

WAITING = 9  # a loosening change waits for a second person, like a plan for approval
ReasonOption = Annotated[str, typer.Option(help="Why (kept in the policy history).")]
AccountOption = Annotated[
    str | None, typer.Option(help="One account's policy (default: the default policy).")
]
HISTORY_COLUMNS = ("seq", "kind", "account_id", "values", "refers", "actor", "reason", "at")


def register(app: typer.Typer, open_store: StoreOpener, open_reader: StoreOpener) -> None:
    policy = typer.Typer(help="The risk policy: limits as audited data.", no_args_is_help=True)
    app.add_typer(policy, name="policy")

    @policy.command("show")
    def show(
        account: AccountOption = None, db: DbOption = None, as_json: JsonOption = False
    ) -> None:
        """The policy in force (of --account, else the default policy): each key, its value
        and which way loosens it."""
        from fsm.policy import KEYS
        from fsm.policyhistory import current_version, policy_at

        rows = open_reader(db).policy_history()
        version = current_version(rows)
        values = policy_at(rows, account, version).model_dump(mode="json")
        if as_json:
            print_json({"version": version, "account_id": account, "policy": values,
                        "loosens": {k: d.value for k, d in KEYS.items()}})  # fmt: skip
            return
        shown = [{"key": k, "value": _cell(v), "loosens": KEYS[k].value} for k, v in values.items()]
        emit(shown, ("key", "value", "loosens"), Format.TABLE,
             f"risk policy version {version} ({account or 'default policy'})")  # fmt: skip

    @policy.command("history")
    def history(db: DbOption = None, as_json: JsonOption = False) -> None:
        """Every change, oldest first: applied, proposed (waiting) and approved rows."""
        rows = [r.as_json() for r in open_reader(db).policy_history()]
        if as_json:
            print_json(rows)
            return
        shown = [r | {"values": _cell(r["values"])} for r in rows]
        emit(shown, HISTORY_COLUMNS, Format.TABLE, f"{len(rows)} policy change(s)")

    @policy.command("set")
    def set_(
        assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE (lists: a,b,c).")],
        reason: ReasonOption,
        account: AccountOption = None,
        actor: ActorOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change policy values: one that tightens is in force at once (exit 0); one that
        loosens any key waits for a second person's `policy approve` (exit 9). A bad key or
        value: one line, exit 2."""
        from fsm.policy import parse_assignments

        _change(open_store, db, actor, account, parse_assignments(assignments), reason, as_json)

    @policy.command("apply")
    def apply(
        file: Annotated[
            Path,
            typer.Argument(
                help="TOML: keys of the default policy at the top, "
                "[accounts.NAME] tables for accounts."
            ),
        ],
        reason: ReasonOption,
        actor: ActorOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change policy values from a TOML file, one change per scope (default policy first):
        exit 0 when every change is in force, 9 when one waits for a second person, 2 for a
        bad file, key or value (nothing from the file is recorded then)."""
        scopes = read_scopes(file)
        codes = [_change(open_store, db, actor, account, values, reason, as_json, exit_=False)
                 for account, values in scopes]  # fmt: skip
        raise typer.Exit(max(codes, default=0))

    @policy.command("approve")
    def approve(
        change: Annotated[int, typer.Argument(help="The proposed change's number (`history`).")],
        reason: ReasonOption,
        actor: ActorOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Put a proposed (loosening) change in force: someone other than its proposer.
        Exit 0; 2 when it is no open proposal or you proposed it."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.policyhistory import approve as approve_change
        from fsm.policyhistory import describe

        settings = settings_from(db=db, actor=actor)
        row = approve_change(open_store(settings.db), change, settings.actor, reason,
                             SystemClock().now())  # fmt: skip
        _said(row.as_json(), describe(row), as_json)


def _change(open_store: StoreOpener, db: str | None, actor: str | None, account: str | None,
            values: dict[str, Any], reason: str, as_json: bool,
            exit_: bool = True) -> int:  # fmt: skip
    from fsm.clock import SystemClock
    from fsm.commands.embedded import settings_from
    from fsm.policyhistory import Proposal, describe, propose

    settings = settings_from(db=db, actor=actor)
    ask = Proposal(account, values, settings.actor, reason)
    row = propose(open_store(settings.db), ask, SystemClock().now())
    _said(row.as_json(), describe(row), as_json)
    code = WAITING if row.kind == "proposed" else 0
    if exit_ and code:
        raise typer.Exit(code)
    return code


def _said(row: dict[str, Any], line: str, as_json: bool) -> None:
    if as_json:
        print_json(row)
    else:
        stdout.print(line, markup=False, highlight=False)


def read_scopes(file: Path) -> list[tuple[str | None, dict[str, Any]]]:
    """The scopes of a policy file, every value checked before anything is recorded."""
    from fsm.policy import DEFAULT, with_values

    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read policy file {file}: {exc}") from None
    accounts = data.pop("accounts", {})
    if not isinstance(accounts, dict) or not all(isinstance(v, dict) for v in accounts.values()):
        raise InvalidInput(f"{file}: [accounts.NAME] must be tables of policy keys")
    scopes: list[tuple[str | None, dict[str, Any]]] = [(None, _typed(data))] if data else []
    scopes += [(name, _typed(values)) for name, values in accounts.items()]
    for _, values in scopes:
        with_values(DEFAULT, values)
    return scopes


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """TOML floats as text (a Decimal from text is exact), lists as tuples."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = tuple(value) if isinstance(value, list) else str(value) if isinstance(
            value, float) else value  # fmt: skip
    return out


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(empty)"
    return "(unset)" if value is None else str(value)
