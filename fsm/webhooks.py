"""A webhook subscriber: each event POSTed as JSON to one URL, signed per the Standard
Webhooks scheme (``webhook-id`` is the event's stable id, so a receiver deduplicates by it).

The body is ``{"type": KIND, "timestamp": OCCURRED_AT, "data": EVENT}``; any 2xx answer
takes the event, anything else (an error status, no answer within the timeout, a refused
connection) is ``DeliveryFailed``: fsm.delivery tries it again later.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

from fsm.delivery import Subscriber
from fsm.errors import DeliveryFailed
from fsm.events import RunEvent
from fsm.settings import Settings

SUBSCRIBER = "webhook"  # the cursor of the webhook of TRADEFSM_WEBHOOK_URL


def _wall() -> datetime:
    """The signature's time: the receiver compares it with its own wall clock (a few minutes
    of tolerance), so it is the wall's, never the engine's injected clock."""
    return datetime.now(UTC)


class WebhookSender:
    """Sends one event per request to ``url``, signed with ``secret`` (``whsec_…``)."""

    def __init__(
        self, url: str, secret: str, timeout: float, wall: Callable[[], datetime] = _wall
    ) -> None:
        from standardwebhooks.webhooks import Webhook  # noqa: PLC0415  # only when delivering

        self._signer = Webhook(secret)
        self.url, self.timeout, self._wall = url, timeout, wall

    def __call__(self, event: RunEvent) -> None:
        data = event.model_dump(mode="json")
        envelope = {"type": event.kind, "timestamp": data["occurred_at"], "data": data}
        body = json.dumps(envelope, separators=(",", ":"))
        at = self._wall()
        headers = {
            "content-type": "application/json", "webhook-id": event.id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._signer.sign(event.id, at, body),
        }  # fmt: skip
        request = urllib.request.Request(self.url, body.encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"webhook {self.url} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"webhook {self.url} did not take the event: {why}") from exc


def webhook_of(settings: Settings) -> Subscriber | None:
    """The webhook of TRADEFSM_WEBHOOK_URL as a subscriber, or None when it is not set."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        return None
    send = WebhookSender(settings.webhook_url, settings.webhook_secret.get_secret_value(),
                         settings.webhook_timeout_seconds)  # fmt: skip
    return Subscriber(SUBSCRIBER, send, settings.webhook_attempts, settings.console_url)
