"""The subscribers settings name: the webhook of TRADEFSM_WEBHOOK_URL, the email of
TRADEFSM_SMTP_HOST and the ``[[subscribers]]`` of tradefsm.toml, each delivered from its own
cursor (fsm.delivery)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from datetime import datetime

from fsm.clock import SystemClock
from fsm.delivery import DeliveryLoop, Subscriber
from fsm.errors import InvalidConfiguration
from fsm.eventlog import EventLog
from fsm.events import RunEvent
from fsm.overdue import NotDoneBy, exchange_zone, not_done_events
from fsm.ports import RunStore
from fsm.settings import Settings
from fsm.smtpsender import SUBSCRIBER as EMAIL
from fsm.smtpsender import email_of
from fsm.subscribersettings import SubscriberSettings
from fsm.webhooks import SUBSCRIBER as WEBHOOK
from fsm.webhooks import WebhookSender, webhook_of


def subscriber_names(settings: Settings) -> tuple[str, ...]:
    """Every cursor a subscriber of ``settings`` can have (set or not, for the env's two)."""
    return (WEBHOOK, EMAIL, *(s.name for s in settings.subscribers))


def subscribers_of(settings: Settings, store: RunStore) -> list[Subscriber]:
    """The subscribers that are set, webhook first, then email, then the configured ones in
    their order; ``store`` is what reports read."""
    found = (webhook_of(settings), email_of(settings, store))
    configured = [_configured(settings, s, store) for s in settings.subscribers]
    subscribers = [s for s in found if s is not None] + configured
    alerts = _alerts(settings, store)
    return subscribers if alerts is None else [replace(s, alerts=alerts) for s in subscribers]


Alerts = Callable[[datetime | None, datetime], list[RunEvent]]


def _alerts(settings: Settings, store: RunStore) -> Alerts | None:
    """The time-based events of ``settings`` (``not_done_by``), or None when none is set."""
    if settings.not_done_by is None:
        return None
    zone = "" if " " in settings.not_done_by else exchange_zone(settings.exchange)
    rule = NotDoneBy.parse(settings.not_done_by, zone)
    return lambda after, now: not_done_events(store, rule, after, now, settings.console_url)


def _configured(settings: Settings, wanted: SubscriberSettings, store: RunStore) -> Subscriber:
    if wanted.kind == "webhook":
        url, secret = wanted.url, wanted.secret
        assert url is not None, "the settings checked it"
        assert secret is not None, "the settings checked it"
        send = WebhookSender(url, secret.get_secret_value(), wanted.timeout_seconds)
        return Subscriber(wanted.name, send, wanted.attempts, settings.console_url)
    if settings.smtp_host is None:
        raise InvalidConfiguration(
            f"email subscriber {wanted.name!r} needs an SMTP server: set TRADEFSM_SMTP_HOST "
            "and TRADEFSM_SMTP_FROM"
        )
    limits = {"smtp_to": wanted.to, "smtp_timeout_seconds": wanted.timeout_seconds}
    mailing = settings.model_copy(update=limits)
    mailer = email_of(mailing, store)
    assert mailer is not None, "an SMTP server is set"
    return Subscriber(wanted.name, mailer.send, wanted.attempts, settings.console_url)


def delivery_beside_runs(
    settings: Settings, log: EventLog, store: RunStore, interval: float = 0.5
) -> AbstractContextManager[object]:
    """What a worker runs beside its runs: a delivery loop per subscriber that is set, each
    on a thread of its own (a slow email server never delays the webhook)."""
    loops = ExitStack()
    for subscriber in subscribers_of(settings, store):
        loops.enter_context(DeliveryLoop(log, subscriber, SystemClock(), interval))
    return loops
