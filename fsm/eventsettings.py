"""The settings of events and their delivery (docs/operations.md, "Events"); ``Settings``
inherits them, so they are read like every other ``TRADEFSM_*`` setting."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def http_url(value: str, example: str) -> str:
    """``value`` when it is an http(s) URL with a host (else a ValueError naming ``example``)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host, e.g. {example}")
    return value


class EventSettings(BaseSettings):
    """Where events point people to and where they are delivered."""

    console_url: str | None = Field(
        None,
        description="The web console's address as people reach it, e.g. "
        "https://tradefsm.example.com; each event then links to its run's page there.",
    )

    webhook_url: str | None = Field(
        None,
        description="Where every event is POSTed, signed per Standard Webhooks (with "
        "TRADEFSM_WEBHOOK_SECRET), by workers and `tradefsm notify`.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="The webhook's signing secret, whsec_ then base64 (secret: never stored, "
        "logged or exported); the receiver verifies each request with it.",
    )
    webhook_attempts: int = Field(
        10, ge=1, le=100,
        description="Failed tries in a row (waiting 1 s, 2 s, 4 s … up to 5 min between "
        "them) after which the webhook is dead until `tradefsm events redeliver`.",
    )  # fmt: skip
    webhook_timeout_seconds: float = Field(
        5, gt=0, le=60, description="How long one webhook request may take before it failed."
    )

    @field_validator("console_url", "webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, "https://tradefsm.example.com")

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        prefix, _, key = value.get_secret_value().partition("_")
        try:
            if prefix == "whsec" and base64.b64decode(key + "=" * (-len(key) % 4), validate=True):
                return value
        except ValueError:  # not base64 (binascii.Error is a ValueError)
            pass
        raise ValueError(f"a webhook secret is whsec_ then base64, e.g. {SECRET_EXAMPLE}")

    @model_validator(mode="after")
    def _webhook_has_both(self) -> EventSettings:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError(
                "set both TRADEFSM_WEBHOOK_URL and TRADEFSM_WEBHOOK_SECRET, or neither"
            )
        return self
