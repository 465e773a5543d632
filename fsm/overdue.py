"""``run.not_done_by``: a run of the day that is not done by a time of day (``not_done_by``).

No ledger row says that time passed, so this event is the one not read from the ledger: each
deliverer (a worker, `tradefsm notify`) asks, every round, which deadlines passed since its
subscriber's ``alerts_through`` and hands over an event for each run of that day that was not
``done`` by then — queued, active, waiting for approval, failed, or done later. Its id,
``RUN_ID:not_done_by:DAY``, is stable, and the cursor's ``alerts_through`` moves only after the
subscriber took them, so each is handed over once (again after a crash: at least once).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fsm.errors import InvalidConfiguration
from fsm.events import RunEvent
from fsm.machines.names import TradingState as S
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord

KIND = "run.not_done_by"
FIRST_LOOK = timedelta(days=1)  # a subscriber's first round looks this far back


@dataclass(frozen=True)
class NotDoneBy:
    """A time of day in a time zone by which each day's runs should be done."""

    at: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, exchange_zone: str) -> NotDoneBy:
        """``HH:MM`` (in ``exchange_zone``) or ``HH:MM Area/City``."""
        clock, _, zone = text.partition(" ")
        try:
            return cls(time.fromisoformat(clock), ZoneInfo(zone or exchange_zone))
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise InvalidConfiguration(f"not_done_by {text!r}: no such time zone") from exc

    def said(self) -> str:
        return f"{self.at:%H:%M} {self.zone.key}"

    def deadlines(self, after: datetime | None, now: datetime) -> list[datetime]:
        """The deadlines that passed in (``after``, ``now``], oldest first."""
        start = now - FIRST_LOOK if after is None else after
        day, last = start.astimezone(self.zone).date(), now.astimezone(self.zone).date()
        found = []
        while day <= last:
            moment = datetime.combine(day, self.at, self.zone)
            if start < moment <= now:
                found.append(moment)
            day += timedelta(days=1)
        return found


def not_done_events(store: RunStore, rule: NotDoneBy, after: datetime | None, now: datetime,
                    console_url: str | None) -> list[RunEvent]:  # fmt: skip
    """An event per run of a day whose deadline passed in (``after``, ``now``] that was
    created before that deadline and not done by it."""
    events = []
    for deadline in rule.deadlines(after, now):
        day = deadline.date()
        recent = store.list_runs(RunFilter(since=deadline - timedelta(days=7), limit=10_000))
        late = [r for r in recent if r.as_of == day and _late(r, deadline)]
        events += [_event(r, rule, day, deadline, console_url) for r in reversed(late)]
    return events


def _late(run: RunRecord, deadline: datetime) -> bool:
    if run.created_at > deadline:
        return False
    return not (run.state == S.DONE and run.updated_at <= deadline)


def _event(run: RunRecord, rule: NotDoneBy, day: date, deadline: datetime,
           console_url: str | None) -> RunEvent:  # fmt: skip
    return RunEvent(
        id=f"{run.run_id}:not_done_by:{day.isoformat()}", kind=KIND, run_id=run.run_id,
        seq=run.version, account_id=run.account_id, state=run.state, event="not_done_by",
        actor="tradefsm", correlation_id=run.correlation_id, occurred_at=deadline,
        summary=f"not done by {rule.said()} on {day}: {run.state} ({run.status.value})",
        link=f"{console_url.rstrip('/')}/runs/{run.run_id}" if console_url else None,
    )  # fmt: skip


def exchange_zone(exchange: str) -> str:
    """The time zone of an exchange-calendars code (imported only for a deadline without a
    zone of its own); its notices about pandas are not the user's to read."""
    import exchange_calendars as xcals  # noqa: PLC0415  # pandas: 0.4 s, only when needed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return str(xcals.get_calendar(exchange, start="2020-01-02", end="2020-01-31").tz)
        except xcals.errors.InvalidCalendarName:
            raise InvalidConfiguration(f"unknown exchange {exchange!r}") from None
