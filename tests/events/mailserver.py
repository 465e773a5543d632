"""A real local SMTP server (aiosmtpd on a thread of its own) that keeps every message it
accepted, optionally asking for a login; ``free_port`` for one that is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.ports import free_port

LOGIN = ("mailer", "s3cret-pw")


class Mailbox:
    """What the server accepted: each message, parsed, with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def body(self, index: int = -1) -> str:
        payload = self.messages[index].get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode().replace("\r\n", "\n")  # SMTP lines end in CRLF


@contextmanager
def mail_server(port: int | None = None, login: bool = False) -> Iterator[tuple[Mailbox, int]]:
    """A server on ``port`` (a free one when None) until the block ends; with ``login`` it
    asks for ``LOGIN`` (over plain text: the test has no certificate for STARTTLS)."""
    mailbox, port = Mailbox(), port or free_port()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:  # fmt: skip
        given = (data.login.decode(), data.password.decode())
        ok = isinstance(data, LoginPassword) and given == LOGIN
        if ok:
            mailbox.logins.append(given[0])
        return AuthResult(success=ok)

    extra: dict[str, Any] = (
        {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
        if login else {}
    )  # fmt: skip
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
