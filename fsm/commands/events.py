"""`tradefsm events`: the events of runs, read from the ledger (fsm.events)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fsm.commands.runs import DbOption

if TYPE_CHECKING:
    from fsm.events import RunEvent

EngineOpener = Callable[[str | None], Any]  # db → a store (its ``engine`` is used)

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
IntervalOption = Annotated[
    float, typer.Option(min=0.05, help="With --follow: seconds between looks.")
]
TimeoutOption = Annotated[
    float | None, typer.Option(min=0, help="With --follow: stop after this many seconds.")
]


def register(app: typer.Typer, open_reader: EngineOpener) -> None:
    @app.command()
    def events(
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
        from dataclasses import replace

        from fsm.commands.lifecycle import embedded
        from fsm.eventlog import EventQuery
        from fsm.events import follow_events, start_of
        from persistence.events import SqlEventLog

        settings = embedded().settings_from(db=db)
        log = SqlEventLog(open_reader(db).engine)
        query = EventQuery() if since is None else start_of(log, since)
        query = replace(query, run_id=run)
        show = _json_line if as_json else _line
        follow_events(log, query, settings.console_url, show, interval,
                      timeout if follow else 0, _flushed)  # fmt: skip


def _flushed(seconds: float) -> None:
    import time

    sys.stdout.flush()
    time.sleep(seconds)


def _json_line(event: RunEvent) -> None:
    sys.stdout.write(json.dumps(event.model_dump(mode="json")) + "\n")


def _line(event: RunEvent) -> None:
    at = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(f"{at}  {event.id}  {event.kind}  {event.state or '-'}  {event.summary}\n")
