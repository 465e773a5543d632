"""`tradefsm halt|unhalt`: the kill switch (fsm.halts, fsm.killswitch; docs/controls.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from fsm.commands.lifecycle import ActorOption, JsonOption
from fsm.commands.output import print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener

ScopeOption = Annotated[
    str | None, typer.Option("--account", help="Only this account (default: every account).")
]
ReasonOption = Annotated[str, typer.Option(help="Why (kept in the halts history).")]


def register(app: typer.Typer, open_store: StoreOpener) -> None:
    @app.command()
    def halt(
        reason: ReasonOption,
        actor: ActorOption = None,
        account: ScopeOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Stop trading at once: no run starts, no driver sends another order, no worker
        claims a run, and open orders of active runs are cancelled at the broker.

        Exit 0 once the halt is recorded (also when the scope was already halted: nothing is
        recorded twice).
        """
        from functools import partial

        from fsm.clock import SystemClock
        from fsm.commands import embedded as e
        from fsm.killswitch import halt_trading
        from fsm.ledger import process_id
        from fsm.pluginports import broker_of

        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        done = halt_trading(store, account, settings.actor, reason, process_id(),
                            SystemClock().now(), partial(broker_of, settings))  # fmt: skip
        if as_json:
            print_json(done.as_json())
            return
        already = "" if done.recorded else " (already; nothing recorded)"
        stdout.print(f"HALTED: {done.halt.said()}{already}", markup=False, highlight=False)
        stdout.print(f"cancelled {len(done.cancelled)} open order(s) at the broker"
                     + "".join(f"; not cancelled {c}: {why}" for c, why in done.refused.items()),
                     markup=False, highlight=False)  # fmt: skip

    @app.command()
    def unhalt(
        reason: ReasonOption,
        actor: ActorOption = None,
        account: ScopeOption = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Lift a halt (by someone other than whoever halted it, when
        the risk policy's unhalt_needs_second_person is on, as by default): exit 0, 6 when refused,
        2 when the scope is not halted."""
        from fsm.clock import SystemClock
        from fsm.commands import embedded as e
        from fsm.halts import throttle_limits
        from fsm.killswitch import unhalt_trading
        from fsm.kinds import Mode
        from fsm.ledger import process_id
        from fsm.limits import PolicyCache, overrides_of

        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        policies = PolicyCache(store, overrides_of(settings))  # the scope's policy in force
        policy = policies.limits(account or "", policies.current(), Mode.PAPER).values
        lifted = unhalt_trading(store, account, settings.actor, reason, process_id(),
                                SystemClock().now(), throttle_limits(policy))  # fmt: skip
        if as_json:
            print_json(lifted.model_dump(mode="json"))
            return
        stdout.print(f"unhalted {lifted.scope} by {lifted.actor} (halt {lifted.seq}): "
                     f"{lifted.reason}", markup=False, highlight=False)  # fmt: skip
