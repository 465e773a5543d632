"""Cancel requests are committed: the request chain and the cancelling row's commitment to its
head let `audit verify` find a request edited or deleted; the holder's writes are refused once
someone asked to cancel its run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import ConcurrentModification, RunLeased
from fsm.ids import SequentialIdFactory
from fsm.records import Fence
from fsm.requests import RunRequest
from persistence import append_only, migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for


def _cancelled_while_held(url: str, folder: Path) -> tuple[SqlAudit, str]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    clock = FixedClock(TRADING_DAY)

    def engine_for(name: str) -> Engine:
        broker = PaperBroker(folder / "paper.db")
        return make_engine_for(store, broker, clock, ids=SequentialIdFactory(name))

    holder, operator = engine_for("holder"), engine_for("operator")
    run = holder.create(RunRequest(account_id="paper"))  # held by a live process (this one)
    with pytest.raises(RunLeased, match="cancel requested"):
        operator.cancel(run.run_id, actor="ops-alice", reason="halt", wait_seconds=0)
    fence = Fence(run_id=run.run_id, version=run.version, lease_owner=holder.owner,
                  lease_expires_at=TRADING_DAY)  # fmt: skip
    with pytest.raises(ConcurrentModification):  # the holder may write nothing more
        store.renew_lease(fence, for_order=True)
    store.release_leases(holder.owner, TRADING_DAY)  # it stood down
    cancelled = operator.cancel(run.run_id, actor="ops-alice", reason="halt")
    assert (cancelled.state, cancelled.failure["error_type"]) == ("failed", "Cancelled")  # type: ignore[index]
    [created, cancel] = store.ledger(run.run_id)
    assert (created.process, cancel.process) == (holder.owner, operator.owner)
    requests = store.cancel_requests(run.run_id)
    assert [r.n for r in requests] == [1, 2]  # each cancel that went ahead recorded its own
    assert cancel.commits["cancel_requests"] == requests[-1].hash
    return SqlAudit(engine), run.run_id


@pytest.mark.parametrize(
    ("statement", "finding"),
    [
        ("UPDATE cancel_requests SET reason = 'nothing' WHERE n = 1", ("edited", None)),
        ("DELETE FROM cancel_requests WHERE n = 2", ("deleted", 2)),
        ("DELETE FROM cancel_requests", ("deleted", 2)),
        ("UPDATE ledger SET process = 'someone/else' WHERE seq = 1", ("edited", 1)),
    ],
)
def test_audit_verify_finds_a_cancel_request_or_process_changed(
    db_url: str, tmp_path: Path, statement: str, finding: tuple[str, int | None]
) -> None:
    audit, run_id = _cancelled_while_held(db_url, tmp_path)
    assert audit.verify().ok
    with audit.engine.begin() as conn:
        append_only.drop(conn, ("cancel_requests", "ledger"))
        conn.execute(text(statement))
    assert [(f.kind, f.seq) for f in audit.verify(run_id).findings] == [finding]
