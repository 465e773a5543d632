"""`tradefsm submit` and `tradefsm worker`: a queue of runs and the workers that drive them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.actors import process_actor
from fsm.commands.console import MetricsOpener
from fsm.commands.events import EventsOpener
from fsm.commands.lifecycle import (
    AccountOption,
    ActorOption,
    AsOfOption,
    CorrelationOption,
    JsonOption,
    KeyOption,
    ModeOption,
    TraceparentOption,
)
from fsm.commands.output import made, print_json, stderr, stdout
from fsm.commands.runs import DbOption, StoreOpener
from fsm.kinds import Mode

if TYPE_CHECKING:
    from fsm.commands.integrity import Sealer
    from fsm.metrics import MetricsSource
    from fsm.ports import RunStore
    from fsm.settings import Settings


WorkerStoreOpener = Callable[[str | None, int], "RunStore"]


def register(
    app: typer.Typer,
    open_store: StoreOpener,
    open_worker_store: WorkerStoreOpener,
    seal_now: Sealer,
    open_events: EventsOpener,
    open_metrics: MetricsOpener,
) -> None:
    @app.command()
    def submit(
        db: DbOption = None,
        account: AccountOption = None,
        mode: ModeOption = Mode.PAPER,
        as_of: AsOfOption = None,
        idempotency_key: KeyOption = None,
        correlation_id: CorrelationOption = None,
        traceparent: TraceparentOption = None,
        actor: ActorOption = None,
        trading_day: Annotated[
            str | None,
            typer.Option(
                help="auto: for today's session of the policy's exchange, one run "
                "per account and day; no session: recorded and cancelled at once."
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Queue a run for `tradefsm worker`; prints its run id (you are its requester).
        It commits the strategy and market data of these settings; a worker with the same
        plugins drives it, with its own broker settings."""
        from fsm.commands import embedded as e

        settings = e.settings_from(db=db, account_id=account, actor=actor)
        if trading_day is not None:
            _scheduled(settings, open_store, trading_day, mode, correlation_id,
                       bool(as_of or idempotency_key), as_json)  # fmt: skip
            return
        request = e.run_request(settings, mode, as_of, idempotency_key, correlation_id,
                                traceparent)  # fmt: skip
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
        metrics_port: Annotated[
            int | None, typer.Option(min=0, max=65535, help="Serve Prometheus metrics here.")
        ] = None,
        metrics_host: Annotated[str, typer.Option(help="Address of the metrics.")] = "127.0.0.1",
        as_json: JsonOption = False,
    ) -> None:
        """Claim queued or abandoned runs and drive them, acting as worker:<host>/<pid>;
        SIGTERM finishes held runs, then stops. --metrics-port serves /metrics meanwhile."""
        from fsm.commands import embedded as e
        from fsm.subscribers import delivery_beside_runs
        from fsm.worker import Worker

        settings = e.settings_from(db=db, actor=process_actor("worker"))
        store = open_worker_store(settings.db, concurrency)
        worker = Worker(
            lambda: e.build_engine(settings, store), concurrency=concurrency,
            max_runs=max_runs, idle_exit=idle_exit, seal=e.sealer_for(settings, seal_now),
            seal_every=settings.audit_seal_every,
            outage_seconds=settings.worker_db_outage_seconds,
        )  # fmt: skip
        with (
            worker.stop_signals(),  # a SIGTERM once the metrics port is open stops it gracefully
            _metrics(metrics_host, metrics_port, open_metrics(db), store),
            delivery_beside_runs(settings, open_events(db), store),
        ):
            report = worker.run()
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


@contextmanager
def _metrics(host: str, port: int | None, source: MetricsSource, store: RunStore) -> Iterator[None]:
    """Metrics of the run database on ``host:port`` while the worker runs (none without)."""
    if port is None:
        yield
        return
    from fsm.clock import SystemClock
    from fsm.metrics import RunsCollector, metrics_registry, serving_metrics, warm_up

    warm_up(source)
    registry = metrics_registry(RunsCollector(source, store, SystemClock()))
    console = made(stderr)  # rich loaded before the port opens, not between it and the run loop
    with serving_metrics(registry, host, port) as serving:
        console.print(f"metrics on http://{host}:{serving}/metrics", markup=False,
                     highlight=False)  # fmt: skip
        yield


def _scheduled(settings: Settings, open_store: StoreOpener, trading_day: str, mode: Mode,
               correlation_id: str | None, keyed: bool, as_json: bool) -> None:  # fmt: skip
    """`submit --trading-day auto` (fsm.schedule)."""
    from fsm.calendar import calendar_for
    from fsm.commands import embedded as e
    from fsm.errors import InvalidInput
    from fsm.schedule import AUTO, submit_for_trading_day

    if trading_day != AUTO:
        raise InvalidInput(f"--trading-day {trading_day!r}: only `auto` (today's session)")
    if keyed:
        raise InvalidInput("--trading-day auto sets the market date and the idempotency key: "
                           "leave out --as-of and --idempotency-key")  # fmt: skip
    engine = e.build_engine(settings, open_store(settings.db))
    request = e.run_request(settings, mode, None, None, correlation_id)
    scheduled = submit_for_trading_day(engine, request, calendar_for(engine.settings.exchange),
                                       settings.actor)  # fmt: skip
    if as_json:
        print_json(scheduled.as_json())
    else:
        stdout.print(scheduled.said(), markup=False, highlight=False)
