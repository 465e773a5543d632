"""`tradefsm run|resume|retry|cancel|failpoints`: start, continue and stop runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.status import Status

from fsm.adapters.market_data import BundledMarketData, CsvMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import LOOKBACK, MomentumStrategy
from fsm.attempts import alarm_or_thread
from fsm.clock import SystemClock
from fsm.commands.integrity import Sealer
from fsm.commands.output import print_json, stderr, stdout
from fsm.commands.runs import DbOption
from fsm.engine import Engine, Ports, RunRequest
from fsm.errors import InvalidConfiguration
from fsm.failpoints import all_failpoints, failpoint
from fsm.ids import UuidFactory
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunStore
from fsm.records import LedgerEntry, Mode, RunRecord
from fsm.runtime import Observer
from fsm.settings import Settings, load_settings
from fsm.views import resolve_run_id, run_details

StoreOpener = Callable[[str | None], RunStore]
PRICE_SLACK = timedelta(days=10)  # week-ends and holidays around the strategy's lookback
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AccountOption = Annotated[str | None, typer.Option(help="Account id (default: paper).")]
ModeOption = Annotated[Mode, typer.Option(help="What the run may do.")]
AsOfOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Market date (default: today).")
]
KeyOption = Annotated[str | None, typer.Option(help="Same key, same run.")]
CorrelationOption = Annotated[str | None, typer.Option(help="Tie the run to a caller.")]


def settings_from(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


def build_engine(
    settings: Settings,
    store: RunStore,
    prices: Path | None = None,
    observer: Observer | None = None,
    as_of: date | None = None,
) -> Engine:
    """The embedded setup: bundled (or CSV) prices, the demo strategy, the paper broker.

    A price file is read for the run's ``as_of`` only: the strategy's lookback before it.
    """
    day = as_of or SystemClock().now().date()
    window = (day - LOOKBACK - PRICE_SLACK, day)
    market = CsvMarketData(prices, window) if prices else BundledMarketData()

    @cache
    def broker_for(account_id: str) -> PaperBroker:
        return PaperBroker(
            settings.paper_db,
            account_id=account_id,
            reject_duplicates=settings.paper_reject_duplicates,
            latency_s=settings.paper_latency_ms / 1000,
        )

    ports = Ports(
        MomentumStrategy(market), market, broker_for(settings.account_id), broker_for=broker_for
    )
    return Engine(
        store, ports, settings, SystemClock(), UuidFactory(), observer=observer,
        failpoint=failpoint, timeouts=alarm_or_thread,  # the CLI owns its process
    )  # fmt: skip


class Progress:
    """Live state and step time on a terminal; nothing otherwise (logs carry the facts)."""

    def __init__(self, *, enabled: bool, console: Console = stderr) -> None:
        self.console = console
        live = enabled and console.is_terminal
        self.status = Status("starting run", console=console) if live else None

    def __enter__(self) -> Observer | None:
        if self.status is None:
            return None
        self.status.start()
        return self._update

    def _update(self, run: RunRecord, entry: LedgerEntry) -> None:
        assert self.status is not None
        self.status.update(f"{run.run_id}: {run.state} (last step {entry.duration_ms} ms)")
        self.console.print(f"  {entry.event}: {entry.source or '∅'} → {entry.target or 'refused'}")

    def __exit__(self, *_exc: object) -> None:
        if self.status is not None:
            self.status.stop()


def report(store: RunStore, run: RunRecord, as_json: bool) -> None:
    details = run_details(store, run.run_id)
    if as_json:
        body = details["run"]
        print_json({**body, "transitions": details["ledger"], "orders": details["orders"]})
        return
    waiting = details["awaiting_approval"]
    if waiting is not None:
        stdout.print(f"run [bold]{run.run_id}[/] [yellow]waits for approval[/] until "
                     f"{waiting['deadline_at'] or 'approved or rejected'}; someone other than "
                     f"{details['requested_by']}: tradefsm approve {run.run_id} --actor NAME "
                     "--reason TEXT (or reject)")  # fmt: skip
        return
    colour = "green" if run.state == "done" else "red"
    stdout.print(f"run [bold]{run.run_id}[/] ended [{colour}]{run.state}[/]")
    stdout.print(f"  account {run.account_id}, mode {run.mode.value}, as of {run.as_of}")
    stdout.print(f"  {len(details['ledger'])} ledger rows, {len(details['orders'])} order(s)")
    if run.failure:
        stdout.print(f"  failed: {run.failure['error_type']}: {run.failure['message']}")
    stdout.print(f"  details: tradefsm runs show {run.run_id}")


def run_request(
    settings: Settings,
    mode: Mode,
    as_of: datetime | None,
    idempotency_key: str | None,
    correlation_id: str | None,
) -> RunRequest:
    """The request `run` and `submit` build from their options (the same rules for both)."""
    if mode is Mode.LIVE and settings.live_trading_enabled:
        raise InvalidConfiguration("live trading needs a live broker adapter; only paper ships")
    return RunRequest(
        account_id=settings.account_id,
        mode=mode,
        as_of=as_of.date() if as_of else None,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
    )


def _drive_and_report(
    store: RunStore, as_json: bool, settings: Settings, drive: Callable[[Engine], RunRecord]
) -> typer.Exit:
    """Drive one run with progress on a terminal, print it, and give its exit code."""
    with Progress(enabled=not as_json) as observer:
        result = drive(build_engine(settings, store, None, observer))
    report(store, result, as_json)
    return exit_for(result)


WAITS_FOR_APPROVAL = 9


def exit_for(run: RunRecord) -> typer.Exit:
    """0 done, 1 failed, 9 parked for a person's approval."""
    if run.state in TRADING_SPECS.parked_states:
        return typer.Exit(WAITS_FOR_APPROVAL)
    return typer.Exit(0 if run.state == "done" else 1)


def sealer_for(settings: Settings, seal_now: Sealer) -> Callable[[], object] | None:
    """Sealing after runs, when a signing key is configured (TRADEFSM_AUDIT_SIGNING_KEY)."""
    if settings.audit_signing_key is None:
        return None
    return lambda: seal_now(settings.db, None)


def register(app: typer.Typer, open_store: StoreOpener, seal_now: Sealer) -> None:
    @app.command()
    def run(
        db: DbOption = None,
        account: AccountOption = None,
        mode: ModeOption = Mode.PAPER,
        as_of: AsOfOption = None,
        idempotency_key: KeyOption = None,
        correlation_id: CorrelationOption = None,
        prices: Annotated[
            Path | None, typer.Option(help="CSV of date,symbol,price instead of bundled data.")
        ] = None,
        paper_db: Annotated[Path | None, typer.Option(help="Paper broker file.")] = None,
        actor: Annotated[
            str | None, typer.Option(help="Who requests the run (default: TRADEFSM_ACTOR).")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Start a rebalance run: exit 0 done, 1 failed, 9 waiting for approval."""
        settings = settings_from(db=db, account_id=account, paper_db=paper_db, actor=actor)
        request = run_request(settings, mode, as_of, idempotency_key, correlation_id)
        store = open_store(settings.db)
        with Progress(enabled=not as_json) as observer:
            result = build_engine(settings, store, prices, observer, request.as_of).run(request)
        seal = sealer_for(settings, seal_now)
        if seal is not None:
            seal()
        report(store, result, as_json)
        raise exit_for(result)

    @app.command()
    def resume(
        run_id: Annotated[str | None, typer.Argument(help="The run to continue.")] = None,
        all_runs: Annotated[
            bool, typer.Option("--all", help="Every active run whose driver is gone.")
        ] = False,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Continue an interrupted run where it stopped, without placing an order twice."""
        if bool(run_id) == all_runs:
            raise typer.BadParameter("give either RUN_ID or --all")
        settings = settings_from(db=db)
        store = open_store(settings.db)
        if run_id:
            full_id = resolve_run_id(store.run_ids_starting, run_id)
            raise _drive_and_report(store, as_json, settings, lambda e: e.resume(full_id))
        with Progress(enabled=not as_json) as observer:
            engine = build_engine(settings, store, None, observer)
            results = engine.expire_approvals()
            results += [engine.resume(r.run_id) for r in engine.resumable()]
        _report_many(results, as_json)
        raise typer.Exit(0 if all(r.state == "done" for r in results) else 1)

    @app.command()
    def retry(run_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
        """Start a new run, linked to a failed one, from fresh data."""
        settings = settings_from(db=db)
        store = open_store(settings.db)
        full_id = resolve_run_id(store.run_ids_starting, run_id)
        raise _drive_and_report(store, as_json, settings, lambda e: e.retry(full_id))

    @app.command()
    def cancel(
        run_id: str,
        reason: Annotated[str, typer.Option(help="Why the run is cancelled (kept in the ledger).")],
        actor: Annotated[str, typer.Option(help="Who cancels it (kept in the ledger).")],
        db: DbOption = None,
    ) -> None:
        """Cancel an unfinished run: it ends failed, with your name and reason in its ledger."""
        settings = settings_from(db=db)
        store = open_store(settings.db)
        full_id = resolve_run_id(store.run_ids_starting, run_id)
        cancelled = build_engine(settings, store).cancel(full_id, actor=actor, reason=reason)
        stdout.print(f"run {cancelled.run_id} cancelled by {actor}: now {cancelled.state}")

    @app.command()
    def failpoints() -> None:
        """List the failpoint names TRADEFSM_FAILPOINTS accepts, one per line."""
        for name in all_failpoints():
            print(name)


def _report_many(results: list[RunRecord], as_json: bool) -> None:
    rows = [
        {"run_id": r.run_id, "state": r.state, "status": r.status.value, "failure": r.failure}
        for r in results
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        stdout.print("no interrupted runs to resume")
    for row in rows:
        stdout.print(f"run {row['run_id']} ended {row['state']}")
