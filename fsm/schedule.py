"""Scheduled runs: `tradefsm submit --trading-day auto` (docs/scheduling.md).

A scheduler (cron, a systemd timer, a Kubernetes CronJob) fires at a time of day; the run it
queues is for the exchange's trading day at that moment, under the idempotency key
``trading-day:ACCOUNT:DAY``, so a second trigger on the same day (a retried job, two
schedulers) returns the same run instead of trading twice. On a day without a session the run
is still recorded, then cancelled at once by the scheduler's actor with the reason: the ledger
shows that the schedule fired and why nothing traded, and the command succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from fsm.calendar import MarketCalendar
from fsm.engine import Engine
from fsm.kinds import RunStatus
from fsm.records import RunRecord
from fsm.requests import RunRequest

AUTO = "auto"


@dataclass(frozen=True)
class ScheduledRun:
    """The run a trigger queued (or found), for which trading day, and whether it trades."""

    run: RunRecord
    day: date
    exchange: str
    session: bool  # False: no session that day; the run was recorded and cancelled

    def as_json(self) -> dict[str, object]:
        return self.run.model_dump(mode="json") | {
            "trading_day": self.day.isoformat(), "exchange": self.exchange,
            "session": self.session}  # fmt: skip

    def said(self) -> str:
        if self.session:
            return f"{self.run.run_id} queued for the {self.exchange} session of {self.day}"
        return (f"{self.run.run_id}: no {self.exchange} session on {self.day}, nothing to "
                "trade (the run is recorded and cancelled)")  # fmt: skip


def trading_day(calendar: MarketCalendar, now: datetime) -> date:
    """The exchange's trading day at ``now``: the session open now (whose UTC open may fall
    on the day before, as in Sydney), else ``now``'s UTC date."""
    session = calendar.open_session(now)
    return session.day if session is not None else now.date()


def day_key(account_id: str, day: date) -> str:
    return f"trading-day:{account_id}:{day.isoformat()}"


def submit_for_trading_day(engine: Engine, request: RunRequest, calendar: MarketCalendar,
                           actor: str) -> ScheduledRun:  # fmt: skip
    """Queue ``request`` for today's trading day (idempotent per account and day); on a day
    without a session, record the run and cancel it at once, saying why."""
    day = trading_day(calendar, engine.clock.now())
    keyed = replace(request, as_of=day, idempotency_key=day_key(request.account_id, day))
    run = engine.submit(keyed)
    session = calendar.is_session(day)
    if not session and run.status is RunStatus.QUEUED:
        reason = f"no {calendar.exchange} session on {day}: nothing to trade (--trading-day auto)"
        run = engine.cancel(run.run_id, actor=actor, reason=reason)
    return ScheduledRun(run, day, calendar.exchange, session)
