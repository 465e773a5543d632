"""The claim reads unfinished runs only: its query plan walks ``ix_runs_claimable`` however
many finished runs the table keeps (the claim's cost stays flat over a year of history)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, text

from fsm.compose.engines import build_engine
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.leases import claimable_query
from persistence.store import SqlRunStore
from persistence.tables import runs

FINISHED = 20_000  # enough that a scan of the finished runs would cost the planner
QUEUED = 2_000  # a trading day's queue: more than a claim's batch, so order matters


def _fill(url: str, tmp_path: Path) -> list[str]:
    """Three submitted runs after FINISHED finished ones and before QUEUED more queued ones
    (copies of a real run's row); returns the three."""
    engine = make_engine(url)
    queue = build_engine(Settings(db=url, paper_db=tmp_path / "paper.db"), SqlRunStore(engine))
    queued = [queue.submit(RunRequest(account_id=f"acct-{n}")).run_id for n in range(3)]
    with engine.begin() as conn:
        model = dict(conn.execute(select(runs).where(runs.c.run_id == queued[0])).mappings().one())
        old = model["created_at"] - timedelta(days=400)
        done = [_copy(model, "done", old + timedelta(minutes=n)) for n in range(FINISHED)]
        later = [_copy(model, "queued", model["created_at"] + timedelta(seconds=n + 1))
                 for n in range(QUEUED)]  # fmt: skip
        conn.execute(insert(runs), done + later)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return queued


def _copy(model: dict[str, Any], status: str, created_at: datetime) -> dict[str, Any]:
    run_id = str(uuid.uuid4())
    state = "done" if status == "done" else model["state"]
    return model | {"run_id": run_id, "account_id": f"acct-{run_id}", "idempotency_key": None,
                    "state": state, "status": status, "created_at": created_at}  # fmt: skip


def _plan(conn: Connection) -> str:
    query = claimable_query(datetime.now(UTC)).compile(
        conn.engine, compile_kwargs={"literal_binds": True}
    )
    if conn.dialect.name == "postgresql":
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {query}")).scalar_one()
        return json.dumps(plan if isinstance(plan, list) else json.loads(plan))
    return "\n".join(row[3] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))


def _runs_scans(node: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, index name) of every read of the claim's own runs (not of ``other``)."""
    own = [] if node.get("Alias") != "runs" else [(node["Node Type"], node.get("Index Name", ""))]
    return own + [scan for child in node.get("Plans", []) for scan in _runs_scans(child)]


def test_the_claim_walks_the_claimable_index_not_the_finished_runs(
    migrated_url: str, tmp_path: Path
) -> None:
    queued = _fill(migrated_url, tmp_path)
    engine = make_engine(migrated_url)
    with engine.connect() as conn:
        plan = _plan(conn)
        claimed = list(conn.execute(claimable_query(datetime.now(UTC))).scalars())
    engine.dispose()
    assert claimed[:3] == queued  # the oldest unfinished runs, none of the older finished ones
    if migrated_url.startswith("postgresql"):
        scans = _runs_scans(json.loads(plan)[0]["Plan"])
        assert scans, plan
        assert all(index == "ix_runs_claimable" for _, index in scans), plan
        assert "Seq Scan" not in {kind for kind, _ in scans}, plan
    else:
        lines = [line for line in plan.splitlines() if " runs " in f"{line} "]
        assert lines, plan
        assert all("USING INDEX ix_runs_claimable" in line for line in lines), plan
