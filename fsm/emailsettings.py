"""The settings of email notifications over SMTP (docs/operations.md, "Email"); ``Settings``
inherits them (and through them the other settings of events), so they are read like every
other ``TRADEFSM_*`` setting."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from fsm.eventsettings import EventSettings


def mail_address(value: str) -> str:
    """``value`` when it is one address such as ops@example.com (else a ValueError)."""
    _, address = parseaddr(value)
    local, at, domain = address.partition("@")
    if not (local and at and domain) or " " in address:
        raise ValueError(f"{value!r} is not an email address such as ops@example.com")
    return value


class EmailSettings(EventSettings):
    """Where the run reports are mailed (success, failure, recovered, waiting for approval)."""

    smtp_host: str | None = Field(
        None,
        description="The SMTP server run reports are mailed through (with TRADEFSM_SMTP_FROM "
        "and TRADEFSM_SMTP_TO), by workers and `tradefsm notify`; unset: no email.",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_starttls: bool = Field(
        True, description="Upgrade the SMTP connection with STARTTLS before logging in."
    )
    smtp_username: str | None = Field(
        None, description="The SMTP login (with TRADEFSM_SMTP_PASSWORD); unset: no login."
    )
    smtp_password: SecretStr | None = Field(
        None, description="The SMTP password (secret: never stored, logged or exported)."
    )
    smtp_from: str | None = Field(None, description="The sender address of run reports.")
    smtp_to: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="The recipients of run reports, separated by commas."
    )
    smtp_attempts: int = Field(
        10, ge=1, le=100,
        description="Failed sends in a row (waiting 1 s, 2 s, 4 s … up to 5 min between "
        "them) after which email is dead until `tradefsm events redeliver --subscriber email`.",
    )  # fmt: skip
    smtp_timeout_seconds: float = Field(
        10, gt=0, le=120, description="How long one SMTP conversation may take before it failed."
    )
    smtp_quiet_minutes: int = Field(
        60, ge=0, le=7 * 24 * 60,
        description="A failure identical to one of the same account less than this many "
        "minutes before it (same state, error, guard and reason) is not mailed again; 0 mails "
        "every failure.",
    )  # fmt: skip

    @field_validator("smtp_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(a.strip() for a in value.split(",") if a.strip())
        return value

    @field_validator("smtp_to")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(mail_address(a) for a in value)

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else mail_address(value)

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.smtp_host is not None and (self.smtp_from is None or not self.smtp_to):
            raise ValueError("with TRADEFSM_SMTP_HOST set TRADEFSM_SMTP_FROM and TRADEFSM_SMTP_TO")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError(
                "set both TRADEFSM_SMTP_USERNAME and TRADEFSM_SMTP_PASSWORD, or neither"
            )
        return self
