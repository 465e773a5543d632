"""Cancel requests in the SQL run store: appended, read, and obeyed by the check before an order."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError

from fsm.errors import CancelRequested, ConcurrentModification
from fsm.records import CancelRequest
from persistence.errors import translate_errors
from persistence.tables import cancel_requests, runs

_ASKED = cancel_requests.c.run_id == runs.c.run_id
# Part of every fenced write: a run with a cancel request is written only by a process that
# asked to cancel it (the `cancel` that completes it), never by the holder it asked to stop.
NOT_ASKED_TO_STOP = or_(
    ~exists().where(_ASKED),
    exists().where(_ASKED, cancel_requests.c.process == bindparam("b_owner")),
)


class CancelRequests:
    """The cancel-request part of the SQL run store (``SqlRunStore`` is one)."""

    engine: Engine

    def request_cancel(self, request: CancelRequest) -> None:
        with translate_errors(request.run_id), self.engine.begin() as conn:
            try:
                conn.execute(insert(cancel_requests), [request.model_dump()])
            except IntegrityError as exc:
                raise ConcurrentModification(
                    f"run {request.run_id}: another cancel request was recorded at the same "
                    "time; nothing was written", run_id=request.run_id,
                ) from exc  # fmt: skip

    def cancel_requests(self, run_id: str) -> list[CancelRequest]:
        stmt = (
            select(cancel_requests)
            .where(cancel_requests.c.run_id == run_id)
            .order_by(cancel_requests.c.n)
        )
        with translate_errors(run_id), self.engine.connect() as conn:
            return [CancelRequest.model_validate(dict(r)) for r in conn.execute(stmt).mappings()]

    @staticmethod
    def _obey_cancel(conn: Connection, run_id: str) -> None:
        """Raise CancelRequested when the run has a cancel request (its holder stands down)."""
        requested = select(exists().where(cancel_requests.c.run_id == run_id))
        if conn.execute(requested).scalar():
            raise CancelRequested(
                f"run {run_id}: a cancel was requested (`tradefsm runs show {run_id}` says by "
                "whom); this process stood down before its next order and sent nothing more",
                run_id=run_id,
            )
