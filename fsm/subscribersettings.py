"""Subscribers named in settings (``[[subscribers]]`` tables of tradefsm.toml), beside the
webhook of TRADEFSM_WEBHOOK_URL and the email of TRADEFSM_SMTP_TO; each is delivered from a
cursor of its own, named after it (fsm.subscribers)."""

from __future__ import annotations

import base64
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RESERVED = ("webhook", "email")  # the cursors of the subscribers of the environment


def http_url(value: str, example: str) -> str:
    """``value`` when it is an http(s) URL with a host (else a ValueError naming ``example``)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host, e.g. {example}")
    return value


def whsec(value: SecretStr | None) -> SecretStr | None:
    """``value`` when it is a Standard Webhooks secret (whsec_ then base64), else ValueError
    (which never shows the value)."""
    if value is None:
        return None
    prefix, _, key = value.get_secret_value().partition("_")
    try:
        if prefix == "whsec" and base64.b64decode(key + "=" * (-len(key) % 4), validate=True):
            return value
    except ValueError:  # not base64 (binascii.Error is a ValueError)
        pass
    raise ValueError(f"a webhook secret is whsec_ then base64, e.g. {SECRET_EXAMPLE}")


class SubscriberSettings(BaseModel):
    """One subscriber: a webhook (``url`` and ``secret``) or a list of mail recipients
    (``to``, mailed through the TRADEFSM_SMTP_* server). Its ``name`` names its cursor, so
    renaming it delivers every event again, from the first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: Literal["webhook", "email"]
    url: str | None = None
    secret: SecretStr | None = None
    to: tuple[str, ...] = ()
    attempts: int = Field(10, ge=1, le=100)
    timeout_seconds: float = Field(5, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, "https://hooks.example.com/tradefsm")

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        return whsec(value)

    @model_validator(mode="after")
    def _complete(self) -> SubscriberSettings:
        if self.name in RESERVED:
            raise ValueError(f"subscriber name {self.name!r} is taken by the environment's")
        if self.kind == "webhook" and (self.url is None or self.secret is None or self.to):
            raise ValueError(f"webhook subscriber {self.name!r} needs url and secret (no to)")
        if self.kind == "email" and (not self.to or self.url or self.secret):
            raise ValueError(f"email subscriber {self.name!r} needs to (no url or secret)")
        return self


def unique(subscribers: tuple[SubscriberSettings, ...]) -> tuple[SubscriberSettings, ...]:
    """``subscribers`` when no two share a name (a cursor), else ValueError naming it."""
    seen: set[str] = set()
    for s in subscribers:
        if s.name in seen:
            raise ValueError(f"two subscribers are named {s.name!r}: each needs a cursor")
        seen.add(s.name)
    return subscribers
