"""What ran is committed: the strategy's name, version and configuration hash in the run's
identity, the price file's path and SHA-256 in the analysis checkpoint, both chained, so
`audit verify` sees an edit and an idempotency key refuses other inputs."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from fsm.clock import FixedClock
from fsm.display import inputs_summary
from fsm.engine import Engine
from fsm.errors import IdempotencyConflict
from fsm.ids import SequentialIdFactory
from fsm.pluginports import plugged_ports
from fsm.plugins import config_hash
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import append_only, constraints
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import checkpoints
from tests.conftest import TRADING_DAY, restore_triggers


def _price_file(folder: Path, shift: int = 0) -> Path:
    path = folder / "prices.csv"
    rows = [f"{(TRADING_DAY - timedelta(days=d)).date()},{s},{p + d + shift}"
            for d in (21, 1) for s, p in (("AAA", 100), ("BBB", 500))]  # fmt: skip
    path.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _engine(store: SqlRunStore, tmp_path: Path, prices: Path) -> Engine:
    settings = Settings(actor="quant-qi", paper_db=tmp_path / "paper.db")
    ports = plugged_ports(settings, TRADING_DAY.date(), prices)
    return Engine(store, ports, settings, FixedClock(TRADING_DAY), SequentialIdFactory())


def _analysis(store: SqlRunStore, run_id: str) -> dict[str, object]:
    return next(c.output for c in store.checkpoints(run_id) if c.state == "analyzing")


def test_a_price_file_run_commits_its_hash_and_verify_sees_an_edit(
    migrated_url: str, tmp_path: Path
) -> None:
    prices = _price_file(tmp_path)
    sha256 = hashlib.sha256(prices.read_bytes()).hexdigest()
    store = SqlRunStore(make_engine(migrated_url))
    run = _engine(store, tmp_path, prices).run(RunRequest(account_id="paper"))
    assert run.state == "done"
    source = {"name": "csv", "distribution": "tradefsm", "version": "0.1.0",
              "path": str(prices.resolve()), "sha256": sha256}  # fmt: skip
    assert _analysis(store, run.run_id)["market_data"] == source
    assert run.params["market_data"] == source
    shown = inputs_summary([c.model_dump(mode="json") for c in store.checkpoints(run.run_id)])
    assert f"  prices from csv 0.1.0: {prices.resolve()} (sha256 {sha256[:12]}…)" in shown
    assert run.params["strategy"] == {
        "name": "demo-momentum",
        "distribution": "tradefsm",
        "version": "0.1.0",
        "config_sha256": config_hash({}),
    }
    audit = SqlAudit(store.engine)
    assert audit.verify().ok

    _edit_recorded_hash(store, run.run_id)
    findings = audit.verify().findings
    assert ("checkpoint_changed", run.run_id) in {(f.kind, f.run_id) for f in findings}
    store.engine.dispose()


def _edit_recorded_hash(store: SqlRunStore, run_id: str) -> None:
    """Someone with write access makes the checkpoint name another file's hash (triggers
    dropped and put back, as an administrator could)."""
    with store.engine.begin() as conn:
        append_only.drop(conn, append_only.TABLES)
        constraints.drop(conn)
        where = (checkpoints.c.run_id == run_id, checkpoints.c.state == "analyzing")
        output = conn.execute(select(checkpoints.c.output).where(*where)).scalar_one()
        output = json.loads(output) if isinstance(output, str) else output
        output["market_data"]["sha256"] = "0" * 64
        conn.execute(update(checkpoints).where(*where).values(output=output))
        restore_triggers(conn)


@pytest.mark.parametrize("edit", [True, False])
def test_an_idempotency_key_compares_the_price_file(
    sqlite_url: str, tmp_path: Path, edit: bool
) -> None:
    from persistence import migrate

    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    request = RunRequest(account_id="paper", idempotency_key="rebalance-1")
    first = _engine(store, tmp_path, _price_file(tmp_path)).run(request)
    again = _engine(store, tmp_path, _price_file(tmp_path, shift=1 if edit else 0))
    if not edit:
        assert again.run(request).run_id == first.run_id
        return
    with pytest.raises(IdempotencyConflict, match="another market_data"):
        again.run(request)
