"""The subscribers settings name (the webhook of TRADEFSM_WEBHOOK_URL, the email of
TRADEFSM_SMTP_HOST), each delivered from its own cursor (fsm.delivery)."""

from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack

from fsm.clock import SystemClock
from fsm.delivery import DeliveryLoop, Subscriber
from fsm.eventlog import EventLog
from fsm.ports import RunStore
from fsm.settings import Settings
from fsm.smtpsender import SUBSCRIBER as EMAIL
from fsm.smtpsender import email_of
from fsm.webhooks import SUBSCRIBER as WEBHOOK
from fsm.webhooks import webhook_of

NAMES = (WEBHOOK, EMAIL)


def subscribers_of(settings: Settings, store: RunStore) -> list[Subscriber]:
    """The subscribers that are set, webhook first; ``store`` is what reports read."""
    found = (webhook_of(settings), email_of(settings, store))
    return [s for s in found if s is not None]


def delivery_beside_runs(
    settings: Settings, log: EventLog, store: RunStore, interval: float = 0.5
) -> AbstractContextManager[object]:
    """What a worker runs beside its runs: a delivery loop per subscriber that is set, each
    on a thread of its own (a slow email server never delays the webhook)."""
    loops = ExitStack()
    for subscriber in subscribers_of(settings, store):
        loops.enter_context(DeliveryLoop(log, subscriber, SystemClock(), interval))
    return loops
