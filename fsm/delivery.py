"""Delivering events to a subscriber from its cursor (fsm.events, fsm.eventlog).

A row's events are handed to ``send`` one by one; the cursor moves past the row once all of
them were taken, so a deliverer that dies (or a receiver that fails) mid-batch starts again at
that row: at-least-once, each event with its stable id. A failed try is recorded with the
time of the next one (exponential backoff); after ``attempts`` failed tries in a row the
subscriber is dead and nothing more is tried until `tradefsm events redeliver` revives it.
Delivery runs beside runs, never in their transactions: a slow or dead receiver delays only
its own events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fsm.clock import Clock
from fsm.errors import DeliveryFailed, TradeFsmError
from fsm.eventlog import EventLog, EventQuery, Subscription
from fsm.events import TRADING_KINDS, EventKinds, RunEvent, events_of

log = logging.getLogger("tradefsm.delivery")
BACKOFF_FIRST = 1.0  # seconds before the second try; doubled after each failure
BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class Subscriber:
    """Who receives events, how, and how many failed tries in a row it is given."""

    name: str
    send: Callable[[RunEvent], None]  # raises DeliveryFailed when the event was not taken
    attempts: int
    console_url: str | None = None
    # The time-based events due in (after, now] (fsm.overdue), handed over after the ledger's.
    alerts: Callable[[datetime | None, datetime], list[RunEvent]] | None = None
    kinds: EventKinds = TRADING_KINDS  # what the rows of the runs' spec set announce


def backoff(failures: int) -> timedelta:
    """The wait before the next try after ``failures`` failed tries in a row."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1)))


def deliver(log_: EventLog, subscriber: Subscriber, clock: Clock, batch: int = 100) -> Subscription:
    """Send every event after the subscriber's cursor, unless it is dead or waits for its
    next try; its state afterwards."""
    state = log_.subscription(subscriber.name)
    if state.dead or (state.retry_at is not None and state.retry_at > clock.now()):
        return state
    query = EventQuery(after=state.position, limit=batch)
    while rows := log_.rows(query):
        for row in rows:
            try:
                for event in events_of(row, subscriber.console_url, subscriber.kinds):
                    subscriber.send(event)
            except DeliveryFailed as exc:
                return _failed(log_, subscriber, state, exc, clock)
            log_.advance(subscriber.name, row.position, clock.now())
            state = Subscription(position=row.position, alerts_through=state.alerts_through)
        query = replace(query, after=rows[-1].position)
    return state if subscriber.alerts is None else _alert(log_, subscriber, state, clock)


def _alert(log_: EventLog, subscriber: Subscriber, state: Subscription,
           clock: Clock) -> Subscription:  # fmt: skip
    """Hand over the time-based events due since the subscriber's ``alerts_through``."""
    assert subscriber.alerts is not None, "only for a subscriber with alerts"
    now = clock.now()
    try:
        for event in subscriber.alerts(state.alerts_through, now):
            subscriber.send(event)
    except DeliveryFailed as exc:
        return _failed(log_, subscriber, state, exc, clock)
    log_.alerted(subscriber.name, now, now)
    return replace(state, alerts_through=now)


def _failed(
    log_: EventLog, subscriber: Subscriber, state: Subscription, error: DeliveryFailed,
    clock: Clock,
) -> Subscription:  # fmt: skip
    now, tries = clock.now(), state.attempts + 1
    failure = replace(state, attempts=tries, retry_at=now + backoff(tries),
                      last_error=error.message, dead=tries >= subscriber.attempts)  # fmt: skip
    log_.failed(subscriber.name, failure, now)
    log.warning("event delivery to %s failed (%d of %d tries): %s", subscriber.name, tries,
                subscriber.attempts, error.message)  # fmt: skip
    return failure


class DeliveryLoop:
    """``deliver`` every ``interval`` seconds on a thread of its own, beside a worker's runs,
    and once more when stopped (a worker's last runs' events); an error reading the database
    is logged and tried again at the next round."""

    def __init__(
        self, log_: EventLog, subscriber: Subscriber, clock: Clock, interval: float
    ) -> None:
        self._log, self._subscriber, self._clock = log_, subscriber, clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deliver-events", daemon=True)

    def __enter__(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        stopped = False
        while not stopped:
            stopped = self._stop.wait(self._interval)
            try:
                deliver(self._log, self._subscriber, self._clock)
            except TradeFsmError as exc:  # the database away: the next round tries again
                log.warning("event delivery paused: %s", exc.message)
