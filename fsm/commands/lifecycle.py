"""`tradefsm run|resume|retry|cancel|failpoints`: start and continue runs.

The options are declared here; the work is in ``fsm.commands.embedded``, imported when a
command runs (so `--help` stays fast).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.commands.output import stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.failpoints import all_failpoints
from fsm.kinds import Mode
from fsm.machines.names import TradingState as S

if TYPE_CHECKING:
    from fsm.commands.integrity import Sealer

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AccountOption = Annotated[str | None, typer.Option(help="Account id (default: paper).")]
ModeOption = Annotated[Mode, typer.Option(help="What the run may do.")]
AsOfOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Market date (default: today).")
]
KeyOption = Annotated[str | None, typer.Option(help="Same key, same run.")]
CorrelationOption = Annotated[str | None, typer.Option(help="Tie the run to a caller.")]
TraceparentOption = Annotated[
    str | None,
    typer.Option(help="W3C trace context (00-TRACE-SPAN-FLAGS): the run's spans join that trace."),
]
ActorOption = Annotated[
    str | None,
    typer.Option(help="Who acts, kept in the ledger (default: TRADEFSM_ACTOR, else the OS user)."),
]


def register(app: typer.Typer, open_store: StoreOpener, seal_now: Sealer) -> None:
    @app.command()
    def run(
        db: DbOption = None,
        account: AccountOption = None,
        mode: ModeOption = Mode.PAPER,
        as_of: AsOfOption = None,
        idempotency_key: KeyOption = None,
        correlation_id: CorrelationOption = None,
        traceparent: TraceparentOption = None,
        prices: Annotated[
            Path | None, typer.Option(help="CSV of date,symbol,price instead of bundled data.")
        ] = None,
        paper_db: Annotated[Path | None, typer.Option(help="Paper broker file.")] = None,
        strategy: Annotated[
            str | None, typer.Option(help="Strategy plugin (default: TRADEFSM_STRATEGY).")
        ] = None,
        market_data: Annotated[
            str | None, typer.Option(help="Market data plugin (default: TRADEFSM_MARKET_DATA).")
        ] = None,
        actor: ActorOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Start a rebalance run: exit 0 done, 1 failed, 9 waiting for approval.

        A paper or live run fails (exit 1, one line) on a day that is no session of the
        exchange and when orders would go out while it is closed (`tradefsm calendar`).
        """
        from fsm.commands import embedded as e

        settings = e.settings_from(db=db, account_id=account, paper_db=paper_db, actor=actor,
                                   strategy=strategy, market_data=market_data)  # fmt: skip
        request = e.run_request(settings, mode, as_of, idempotency_key, correlation_id,
                                traceparent)  # fmt: skip
        store = open_store(settings.db)
        with e.Progress(enabled=not as_json) as observer, e.stop_on_signals() as stop:
            engine = e.build_engine(settings, store, prices, observer, request.as_of, stop)
            result = engine.run(request)
        seal = e.sealer_for(settings, seal_now)
        if seal is not None:
            seal()
        e.report(store, result, as_json)
        raise e.exit_for(result)

    @app.command()
    def resume(
        run_id: Annotated[str | None, typer.Argument(help="The run to continue.")] = None,
        all_runs: Annotated[
            bool, typer.Option("--all", help="Every active run whose driver is gone.")
        ] = False,
        db: DbOption = None,
        actor: ActorOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Continue an interrupted run where it stopped, without placing an order twice."""
        from fsm.commands import embedded as e

        if (run_id is not None) == all_runs:
            raise typer.BadParameter("give either RUN_ID or --all")
        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        if run_id is not None:
            full_id = e.full_id(store, run_id)
            raise e.drive_and_report(store, as_json, settings, lambda e: e.resume(full_id))
        with e.Progress(enabled=not as_json) as observer, e.stop_on_signals() as stop:
            engine = e.build_engine(settings, store, None, observer, stop=stop)
            results = engine.expire_approvals()
            results += [engine.resume(r.run_id) for r in engine.resumable()]
        e.report_many(results, as_json)
        raise typer.Exit(0 if all(r.state == S.DONE for r in results) else 1)

    @app.command()
    def retry(
        run_id: str, db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False
    ) -> None:
        """Start a new run, linked to a failed one, from fresh data; you are its requester."""
        from fsm.commands import embedded as e

        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        full_id = e.full_id(store, run_id)
        raise e.drive_and_report(store, as_json, settings, lambda e: e.retry(full_id))

    @app.command()
    def cancel(
        run_id: str,
        reason: Annotated[str, typer.Option(help="Why the run is cancelled (kept in the ledger).")],
        actor: ActorOption = None,
        db: DbOption = None,
        wait: Annotated[
            float | None,
            typer.Option(
                min=0,
                help="Seconds to wait for a process still driving the run to stop "
                "(default: the lease, TRADEFSM_LEASE_SECONDS, plus 5).",
            ),
        ] = None,
    ) -> None:
        """Cancel an unfinished run: it ends failed, with your name and reason in its ledger.

        A process still driving it is first asked to stop by a recorded cancel request (one
        line on stderr says what the cancel waits for): it stands down before its next order,
        and the run's orders are reconciled with the broker once it has stopped.
        """
        from fsm.commands import embedded as e

        settings = e.settings_from(db=db, actor=actor)
        store = open_store(settings.db)
        full_id = e.full_id(store, run_id)
        by = settings.actor
        engine = e.build_engine(settings, store)
        cancelled = engine.cancel(full_id, actor=by, reason=reason, wait_seconds=wait,
                                  waiting=lambda line: typer.echo(line, err=True))  # fmt: skip
        stdout.print(f"run {cancelled.run_id} cancelled by {by}: now {cancelled.state}")

    @app.command()
    def failpoints() -> None:
        """List the failpoint names TRADEFSM_FAILPOINTS accepts, one per line."""
        for name in all_failpoints():
            print(name)
