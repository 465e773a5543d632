"""The legacy facade's ``notification_service``: called when a facade run ends, in the legacy
shape, and never in the run's way (docs/migration.md, "Notifications").

The legacy interface typed the service as ``notify(*args, **kwargs) -> None`` ("a notification
with arbitrary payload") and its orchestrator never called it; the system that mailed reports
sent ``subject`` and ``text_content``. The facade calls, keywords only::

    notification_service.notify(kind=KIND, subject=..., text_content=..., run_id=...,
                                correlation_id=...)

with the report tradefsm mails (fsm.mails): ``kind`` is SUCCESS, RECOVERED or FAILURE (a
facade run never waits for approval), and the same quiet period
(TRADEFSM_SMTP_QUIET_MINUTES) keeps identical failures from repeating.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fsm.machines.names import TradingState as S
from fsm.mails import RunReports, last_event
from fsm.ports import RunStore
from fsm.records import RunRecord

ENDED = (S.DONE, S.FAILED)


class LegacyNotifications:
    """Tells the injected service about each run that ended (once per run); whatever the
    service or the reading of the report raises is logged as a warning, never raised."""

    def __init__(self, service: Any, store: RunStore, quiet_minutes: int) -> None:
        self._service, self._store = service, store
        self._reports = RunReports(store, timedelta(minutes=quiet_minutes))
        self._told: str | None = None  # the run last told about

    def run_ended(self, run: RunRecord | None, logger: logging.Logger) -> None:
        if self._service is None or run is None or run.state not in ENDED:
            return
        if run.run_id == self._told:
            return
        self._told = run.run_id
        try:
            mail = self._reports.of(last_event(self._store, run))
            if mail is not None:
                self._service.notify(kind=mail.kind, subject=mail.subject,
                                     text_content=mail.body, run_id=run.run_id,
                                     correlation_id=run.correlation_id)  # fmt: skip
        except Exception as exc:  # the legacy contract: a notification never fails a run
            logger.warning(
                f"notification of run {run.run_id} failed: {type(exc).__name__}",
                exc_info=exc,
                extra={"correlation_id": run.correlation_id, "run_id": run.run_id,
                       "component": "TradingOrchestrator.notification_service"},
            )  # fmt: skip
