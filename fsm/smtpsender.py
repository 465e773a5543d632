"""The email subscriber: each run report (fsm.mails) sent over SMTP to the recipients of
TRADEFSM_SMTP_TO, one conversation per report (STARTTLS and login when set).

A report's ``Message-ID`` is derived from its event's stable id, so a report sent twice
(delivery is at-least-once) is recognisable as one. A server that is down, refuses the
login or a recipient, or does not answer within the timeout is ``DeliveryFailed``:
fsm.delivery tries the same report again later, later reports waiting behind it.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from fsm.delivery import Subscriber
from fsm.errors import DeliveryFailed
from fsm.events import RunEvent
from fsm.mails import RunMail, RunReports
from fsm.ports import RunStore
from fsm.settings import Settings

SUBSCRIBER = "email"  # the cursor of the recipients of TRADEFSM_SMTP_TO
# Headers on one line up to RFC 5322's limit: Python folds a subject holding a long run id
# straight after "Subject:", which some readers show with a leading space.
UNFOLDED = policy.SMTP.clone(max_line_length=998)


class SmtpSender:
    """Mails the report of each event that has one (``RunReports``) through one server."""

    def __init__(self, settings: Settings, reports: RunReports) -> None:
        self._settings, self._reports = settings, reports
        self._server = f"{settings.smtp_host}:{settings.smtp_port}"

    def __call__(self, event: RunEvent) -> None:
        mail = self._reports.of(event)
        if mail is not None:
            self._send(self._message(event, mail))

    def _message(self, event: RunEvent, mail: RunMail) -> EmailMessage:
        s = self._settings
        message = EmailMessage(policy=UNFOLDED)
        message["Subject"], message["From"] = mail.subject, s.smtp_from
        message["To"] = ", ".join(s.smtp_to)
        message["Date"] = format_datetime(event.occurred_at)
        message["Message-ID"] = f"<{event.id.replace(':', '.')}@tradefsm>"
        message["X-Tradefsm-Event"] = event.kind
        message.set_content(mail.body)
        return message

    def _send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            with smtplib.SMTP(s.smtp_host or "", s.smtp_port,
                              timeout=s.smtp_timeout_seconds) as smtp:  # fmt: skip
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username is not None and s.smtp_password is not None:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            why = str(exc) or type(exc).__name__
            raise DeliveryFailed(f"email via {self._server} was not sent: {why}") from exc


def email_of(settings: Settings, store: RunStore) -> Subscriber | None:
    """The recipients of TRADEFSM_SMTP_TO as a subscriber, or None when no server is set;
    ``store`` is read for what the reports say of their runs."""
    if settings.smtp_host is None:
        return None
    reports = RunReports(store, timedelta(minutes=settings.smtp_quiet_minutes))
    send = SmtpSender(settings, reports)
    return Subscriber(SUBSCRIBER, send, settings.smtp_attempts, settings.console_url)
