"""The embedded setup behind `run`, `resume`, `retry`, `cancel`, `approve` and `worker`:
settings, the engine with the plugins they name, progress and reports.

Imported by those commands when they run, never for `--help`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from fsm.commands.integrity import Sealer
from fsm.commands.output import made, print_json, stderr, stdout
from fsm.compose.engines import build_engine
from fsm.engine import Engine
from fsm.interrupts import stop_on_signals
from fsm.kinds import Mode
from fsm.machines.names import TradingState as S
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunStore
from fsm.records import LedgerEntry, RunRecord, run_labels
from fsm.requests import RunRequest
from fsm.runids import resolve_run_id
from fsm.runtime import Observer
from fsm.settings import Settings, load_settings
from fsm.views import run_details

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = [  # what the commands use, besides this module's own
    "Progress", "build_engine", "drive_and_report", "exit_for", "full_id", "report",
    "report_many", "run_request", "sealer_for", "settings_from", "stop_on_signals",
]  # fmt: skip


def settings_from(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


class Progress:
    """Live state and step time on a terminal; nothing otherwise (logs carry the facts)."""

    def __init__(self, *, enabled: bool, console: Console = stderr) -> None:
        self.console = console
        self.status = _status(console) if enabled and console.is_terminal else None

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


def _status(console: Console) -> Status:
    from rich.status import Status  # rich's live display, on a terminal only

    return Status("starting run", console=made(console))


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
                     f"{details['requested_by']}{_lineage_note(run)}: tradefsm approve "
                     f"{run.run_id} --actor NAME "
                     "--reason TEXT (or reject)")  # fmt: skip
        return
    colour = "green" if run.state == S.DONE else "red"
    stdout.print(f"run [bold]{run.run_id}[/] ended [{colour}]{run.state}[/]")
    stdout.print(f"  account {run.account_id}, mode {run.mode.value}, as of {run.as_of}")
    stdout.print(f"  {len(details['ledger'])} ledger rows, {len(details['orders'])} order(s)")
    if run.failure:
        stdout.print(f"  failed: {run.failure['error_type']}: {run.failure['message']}")
    stdout.print(f"  details: tradefsm runs show {run.run_id}")


def _lineage_note(run: RunRecord) -> str:
    return " and the people of the runs it retries" if run.parent_run_id else ""


def full_id(store: RunStore, text: str) -> str:
    """The run id that ``text`` (an id or a unique prefix of one) names."""
    return resolve_run_id(store.run_ids_starting, text)


OPTION_NAMES = {"idempotency_key": "--idempotency-key", "correlation_id": "--correlation-id"}


def run_request(
    settings: Settings,
    mode: Mode,
    as_of: datetime | None,
    idempotency_key: str | None,
    correlation_id: str | None,
    traceparent: str | None = None,
) -> RunRequest:
    """The request `run` and `submit` build from their options (the same rules for both)."""
    run_labels(OPTION_NAMES, idempotency_key=idempotency_key, correlation_id=correlation_id)
    return RunRequest(
        account_id=settings.account_id,
        mode=mode,
        as_of=as_of.date() if as_of else None,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
        traceparent=traceparent,
    )


def drive_and_report(
    store: RunStore, as_json: bool, settings: Settings, drive: Callable[[Engine], RunRecord]
) -> typer.Exit:
    """Drive one run with progress on a terminal, print it, and give its exit code."""
    with Progress(enabled=not as_json) as observer, stop_on_signals() as stop:
        result = drive(build_engine(settings, store, None, observer, stop=stop))
    report(store, result, as_json)
    return exit_for(result)


WAITS_FOR_APPROVAL = 9


def exit_for(run: RunRecord) -> typer.Exit:
    """0 done, 1 failed, 9 parked for a person's approval."""
    if run.state in TRADING_SPECS.parked_states:
        return typer.Exit(WAITS_FOR_APPROVAL)
    return typer.Exit(0 if run.state == S.DONE else 1)


def sealer_for(settings: Settings, seal_now: Sealer) -> Callable[[], object] | None:
    """Sealing after runs, when a signing key is configured (TRADEFSM_AUDIT_SIGNING_KEY)."""
    if settings.audit_signing_key is None:
        return None
    return lambda: seal_now(settings.db, None)


def report_many(results: list[RunRecord], as_json: bool) -> None:
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
