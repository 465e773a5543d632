"""`tradefsm submit` and `tradefsm worker`: a queue of runs and the workers that drive them."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.actors import process_actor
from fsm.commands.events import EventsOpener
from fsm.commands.lifecycle import (
    AccountOption,
    ActorOption,
    AsOfOption,
    CorrelationOption,
    JsonOption,
    KeyOption,
    ModeOption,
    embedded,
)
from fsm.commands.output import print_json, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.kinds import Mode

if TYPE_CHECKING:
    from fsm.commands.integrity import Sealer
    from fsm.ports import RunStore


WorkerStoreOpener = Callable[[str | None, int], "RunStore"]


def register(
    app: typer.Typer,
    open_store: StoreOpener,
    open_worker_store: WorkerStoreOpener,
    seal_now: Sealer,
    open_events: EventsOpener,
) -> None:
    @app.command()
    def submit(
        db: DbOption = None,
        account: AccountOption = None,
        mode: ModeOption = Mode.PAPER,
        as_of: AsOfOption = None,
        idempotency_key: KeyOption = None,
        correlation_id: CorrelationOption = None,
        actor: ActorOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Queue a run for `tradefsm worker`; prints its run id (you are its requester).
        The worker drives it with the bundled market data and its own broker settings."""
        e = embedded()
        settings = e.settings_from(db=db, account_id=account, actor=actor)
        request = e.run_request(settings, mode, as_of, idempotency_key, correlation_id)
        queued = e.build_engine(settings, open_store(settings.db)).submit(request)
        if as_json:
            print_json(queued.model_dump(mode="json"))
        else:
            print(queued.run_id)

    @app.command()
    def worker(
        db: DbOption = None,
        concurrency: Annotated[int, typer.Option(min=1, max=64, help="Runs driven at once.")] = 1,
        max_runs: Annotated[
            int | None, typer.Option(min=1, help="Stop after driving this many runs.")
        ] = None,
        idle_exit: Annotated[
            float | None, typer.Option(min=0, help="Stop after this many seconds without work.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Claim queued or abandoned runs and drive them, acting as worker:<host>/<pid>;
        SIGTERM finishes held runs, then stops."""
        e = embedded()
        settings = e.settings_from(db=db, actor=process_actor("worker"))
        store = open_worker_store(settings.db, concurrency)
        with import_module("fsm.webhooks").delivery_beside_runs(settings, open_events(db)):
            report = import_module("fsm.worker").Worker(
                lambda: e.build_engine(settings, store), concurrency=concurrency,
                max_runs=max_runs, idle_exit=idle_exit, seal=e.sealer_for(settings, seal_now),
                seal_every=settings.audit_seal_every,
                outage_seconds=settings.worker_db_outage_seconds,
            ).run()  # fmt: skip
        if as_json:
            print_json(report.as_json())
        else:
            done = report.as_json()
            stdout.print(
                f"drove {done['runs']} run(s): {done['done']} done, {done['failed']} failed; "
                f"stopped by {done['stopped_by']}"
            )
            if report.stranded:  # pinned to another definition: `runs migrate` moves them
                stdout.print(f"left {len(report.stranded)} stranded run(s): tradefsm runs list "
                             "--stranded")  # fmt: skip
        if report.error is not None:
            raise report.error  # one line and its exit code (3: the database stayed away)
