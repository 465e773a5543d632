"""The settings of events and their delivery (docs/operations.md, "Events"); ``Settings``
inherits them, so they are read like every other ``TRADEFSM_*`` setting."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

from fsm.subscribersettings import SubscriberSettings, http_url, unique, whsec

__all__ = ["EventSettings", "http_url"]


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

    not_done_by: str | None = Field(
        None,
        pattern=r"^([01]\d|2[0-3]):[0-5]\d( [A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*)?$",
        description="A time of day, HH:MM in the exchange's time zone (or HH:MM Area/City): "
        "each run of the day not done by then is a run.not_done_by event, handed to every "
        "subscriber once.",
    )
    subscribers: tuple[SubscriberSettings, ...] = Field(
        (),
        description="More subscribers, each with a cursor of its own: `[[subscribers]]` tables "
        "in tradefsm.toml with name, kind (webhook: url, secret; email: to, mailed through "
        "TRADEFSM_SMTP_HOST), and optionally attempts and timeout_seconds (in the environment: "
        "a JSON list of such objects).",
    )

    @field_validator("console_url", "webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, "https://tradefsm.example.com")

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        return whsec(value)

    @field_validator("subscribers")
    @classmethod
    def _named_once(cls, value: tuple[SubscriberSettings, ...]) -> tuple[SubscriberSettings, ...]:
        return unique(value)

    @model_validator(mode="after")
    def _webhook_has_both(self) -> EventSettings:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError(
                "set both TRADEFSM_WEBHOOK_URL and TRADEFSM_WEBHOOK_SECRET, or neither"
            )
        return self
