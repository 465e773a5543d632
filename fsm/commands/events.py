"""`tradefsm events` (the events of runs, read from the ledger: fsm.events), `events
redeliver` and `notify` (delivery to the webhook and email: fsm.delivery, fsm.subscribers)."""

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
    from fsm.ports import RunStore

EventsOpener = Callable[..., "EventLog"]  # (db, read_only=False) → the event log
ReaderOpener = Callable[[str | None], "RunStore"]  # what the email reports read

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
DEAD = 1  # exit code of `notify` when a subscriber's tries ran out
SubscriberOption = Annotated[
    str,
    typer.Option(
        help="Whose delivery: webhook (TRADEFSM_WEBHOOK_URL), email, or the name "
        "of a [[subscribers]] table."
    ),
]


def register(app: typer.Typer, open_events: EventsOpener, open_reader: ReaderOpener) -> None:
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

        from fsm.commands.embedded import settings_from
        from fsm.eventlog import EventQuery
        from fsm.events import follow_events, start_of

        settings = settings_from(db=db)
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
        subscriber: SubscriberOption = "webhook",
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Revive a subscriber (the webhook unless --subscriber email) after its tries ran out
        (its failures cleared, the next round tries at once), from where it stopped or after
        the event --since; exit 0."""
        from fsm.clock import SystemClock
        from fsm.commands.embedded import settings_from
        from fsm.errors import InvalidInput
        from fsm.events import start_of
        from fsm.subscribers import subscriber_names

        names = subscriber_names(settings_from(db=db))
        if subscriber not in names:
            raise InvalidInput(f"--subscriber {subscriber!r}: one of {', '.join(names)}")
        log = open_events(db)
        after = log.subscription(subscriber).position if since is None else None
        if since is not None:
            after = start_of(log, since).after
        log.rewind(subscriber, after, SystemClock().now())
        shown = _shown(subscriber, log.subscription(subscriber), None)
        if as_json:
            print_json(shown)
        else:
            _print(shown)

    @app.command()
    def notify(
        once: Annotated[bool, typer.Option("--once", help="One round, then exit (cron).")] = False,
        interval: IntervalOption = 1.0,
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Deliver the events not yet delivered to the webhook (TRADEFSM_WEBHOOK_URL) and the
        run reports not yet mailed (TRADEFSM_SMTP_HOST), then, without --once, each new one;
        exit 0, 1 when a subscriber's tries ran out (`events redeliver`)."""
        _notify(open_events, open_reader, db, once, interval, as_json)


def _notify(open_events: EventsOpener, open_reader: ReaderOpener, db: str | None, once: bool,
            interval: float, as_json: bool) -> None:  # fmt: skip
    from fsm.clock import SystemClock
    from fsm.commands.embedded import settings_from
    from fsm.delivery import deliver
    from fsm.errors import InvalidConfiguration
    from fsm.subscribers import subscribers_of

    clock = SystemClock()
    settings = settings_from(db=db)
    subscribers = subscribers_of(settings, open_reader(db))
    if not subscribers:
        raise InvalidConfiguration(
            "no subscriber: set TRADEFSM_WEBHOOK_URL and TRADEFSM_WEBHOOK_SECRET, or "
            "TRADEFSM_SMTP_HOST, or [[subscribers]] in tradefsm.toml"
        )
    log = open_events(db)
    before = {s.name: log.subscription(s.name).position for s in subscribers}
    states = {s.name: deliver(log, s, clock) for s in subscribers}
    while not once and not any(state.dead for state in states.values()):
        _flushed(interval)
        states = {s.name: deliver(log, s, clock) for s in subscribers}
    shown = [_shown(name, state, before[name]) for name, state in states.items()]
    if as_json:
        print_json(shown)
    else:
        for report in shown:
            _print(report)
    if any(state.dead for state in states.values()):
        raise typer.Exit(DEAD)


def _shown(name: str, state: Subscription, before: object) -> dict[str, object]:
    return {
        "subscriber": name,
        "position": None if state.position is None else
        f"{state.position.run_id}:{state.position.seq}",
        "moved": before != state.position, "attempts": state.attempts,
        "retry_at": state.retry_at, "last_error": state.last_error, "dead": state.dead,
    }  # fmt: skip


def _print(shown: dict[str, object]) -> None:
    failing = f"failing, next try at {shown['retry_at']}" if shown["attempts"] else "up to date"
    said = "dead: `tradefsm events redeliver` revives it" if shown["dead"] else failing
    why = f" ({shown['attempts']} failed tries: {shown['last_error']})" if shown["attempts"] else ""
    stdout.print(f"{shown['subscriber']} {said}; delivered up to {shown['position'] or 'nothing'}"
                 f"{why}", markup=False, highlight=False)  # fmt: skip


def _flushed(seconds: float) -> None:
    import time

    sys.stdout.flush()
    time.sleep(seconds)


def _json_line(event: RunEvent) -> None:
    sys.stdout.write(json.dumps(event.model_dump(mode="json")) + "\n")


def _line(event: RunEvent) -> None:
    at = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(f"{at}  {event.id}  {event.kind}  {event.state or '-'}  {event.summary}\n")
