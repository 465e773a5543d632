"""`tradefsm events` (the events of runs, read from the ledger: fsm.events), `events
redeliver` and `notify` (delivery to the webhook: fsm.delivery, fsm.webhooks)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from fsm.commands.lifecycle import JsonOption
from fsm.commands.output import print_json, stdout
from fsm.commands.runs import DbOption

if TYPE_CHECKING:
    from fsm.eventlog import EventLog, Subscription
    from fsm.events import RunEvent

EventsOpener = Callable[..., "EventLog"]  # (db, read_only=False) → the event log

FollowOption = Annotated[
    bool, typer.Option("--follow", help="Keep printing events as they are committed.")
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Events from this time (ISO 8601, UTC unless it says) or after this "
                 "event id."),
]  # fmt: skip
RunOption = Annotated[str | None, typer.Option("--run", help="Only this run's events.")]
JsonLinesOption = Annotated[
    bool, typer.Option("--json", help="One JSON object per line (JSON Lines) for scripts.")
]
IntervalOption = Annotated[float, typer.Option(min=0.05, help="Seconds between looks.")]
TimeoutOption = Annotated[
    float | None, typer.Option(min=0, help="With --follow: stop after this many seconds.")
]
DEAD = 1  # exit code of `notify` when the webhook's tries ran out


def register(app: typer.Typer, open_events: EventsOpener) -> None:
    events_app = typer.Typer(invoke_without_command=True)
    app.add_typer(events_app, name="events")

    @events_app.callback()
    def events(
        ctx: typer.Context,
        follow: FollowOption = False,
        since: SinceOption = None,
        run: RunOption = None,
        as_json: JsonLinesOption = False,
        db: DbOption = None,
        interval: IntervalOption = 1.0,
        timeout: TimeoutOption = None,
    ) -> None:
        """Print the events of runs (run started, waiting for approval, approved, rejected,
        done, failed, cancelled, halted, resumed, every other transition) in commit order,
        each with a stable id; exit 0."""
        if ctx.invoked_subcommand is not None:
            return
        from dataclasses import replace

        from fsm.commands.lifecycle import embedded
        from fsm.eventlog import EventQuery
        from fsm.events import follow_events, start_of

        settings = embedded().settings_from(db=db)
        log = open_events(db, read_only=True)
        query = EventQuery() if since is None else start_of(log, since)
        show = _json_line if as_json else _line
        follow_events(log, replace(query, run_id=run), settings.console_url, show, interval,
                      timeout if follow else 0, _flushed)  # fmt: skip

    @events_app.command("redeliver")
    def redeliver(
        since: Annotated[
            str | None, typer.Option(help="Send again every event after this event id.")
        ] = None,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Revive the webhook after its tries ran out (its failures cleared, the next round
        tries at once), from where it stopped or after the event --since; exit 0."""
        from fsm.clock import SystemClock
        from fsm.events import start_of
        from fsm.webhooks import SUBSCRIBER

        log = open_events(db)
        after = log.subscription(SUBSCRIBER).position if since is None else None
        if since is not None:
            after = start_of(log, since).after
        log.rewind(SUBSCRIBER, after, SystemClock().now())
        _report(log.subscription(SUBSCRIBER), None, as_json)

    @app.command()
    def notify(
        once: Annotated[bool, typer.Option("--once", help="One round, then exit (cron).")] = False,
        interval: IntervalOption = 1.0,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Deliver the events not yet delivered to the webhook (TRADEFSM_WEBHOOK_URL), then,
        without --once, each new one; exit 0, 1 when its tries ran out (`events redeliver`)."""
        from fsm.clock import SystemClock
        from fsm.commands.lifecycle import embedded
        from fsm.delivery import deliver
        from fsm.errors import InvalidConfiguration
        from fsm.webhooks import webhook_of

        clock = SystemClock()
        settings = embedded().settings_from(db=db)
        subscriber = webhook_of(settings)
        if subscriber is None:
            raise InvalidConfiguration("no webhook: set TRADEFSM_WEBHOOK_URL and "
                                       "TRADEFSM_WEBHOOK_SECRET")  # fmt: skip
        log = open_events(db)
        before = log.subscription(subscriber.name).position
        state = deliver(log, subscriber, clock)
        while not once and not state.dead:
            _flushed(interval)
            state = deliver(log, subscriber, clock)
        _report(state, before, as_json)
        if state.dead:
            raise typer.Exit(DEAD)


def _report(state: Subscription, before: object, as_json: bool) -> None:
    shown = {
        "position": None if state.position is None else
        f"{state.position.run_id}:{state.position.seq}",
        "moved": before != state.position, "attempts": state.attempts,
        "retry_at": state.retry_at, "last_error": state.last_error, "dead": state.dead,
    }  # fmt: skip
    if as_json:
        print_json(shown)
        return
    said = "dead: `tradefsm events redeliver` revives it" if state.dead else (
        f"failing, next try at {state.retry_at}" if state.attempts else "up to date")  # fmt: skip
    why = f" ({state.attempts} failed tries: {state.last_error})" if state.attempts else ""
    stdout.print(f"webhook {said}; delivered up to {shown['position'] or 'nothing'}{why}",
                 markup=False, highlight=False)  # fmt: skip


def _flushed(seconds: float) -> None:
    import time

    sys.stdout.flush()
    time.sleep(seconds)


def _json_line(event: RunEvent) -> None:
    sys.stdout.write(json.dumps(event.model_dump(mode="json")) + "\n")


def _line(event: RunEvent) -> None:
    at = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(f"{at}  {event.id}  {event.kind}  {event.state or '-'}  {event.summary}\n")
