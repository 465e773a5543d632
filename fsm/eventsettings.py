"""The settings of events and their delivery (docs/operations.md, "Events"); ``Settings``
inherits them, so they are read like every other ``TRADEFSM_*`` setting."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


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

    @field_validator("console_url")
    @classmethod
    def _console_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, "https://tradefsm.example.com")
