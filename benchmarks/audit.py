"""Audit queries, verification at 1M ledger rows, and sealing 10,000 changed runs (SQLite).

Builds a year of history — about 167k runs of 6 ledger rows with their checkpoints (the
outputs of a real run), 1% of them refused by a guard, a third with orders — with real hash
chains and commitments, then times each audit query (median of repetitions, milliseconds),
the median of three full `verify` runs (seconds: chains, identities, checkpoints, orders,
definitions) against a floor measured in the same run (raw sqlite3 reading every ledger row
and checkpoint and hashing each once, in one process, checking nothing), the `seal`
of a digest over 10,000 changed runs (median, against a floor measured in the same run: raw
sqlite3 reading the heads, their Merkle tree, one signature) and the export plus offline
verification of one run's evidence bundle (median, against `verify --run` in the database).
Targets: each query ≤ 50 ms, verify of 1M rows ≤ 10 s, seal_ms_10k ≤ 200 ms,
bundle_export_verify_ms ≤ 1000 ms.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.transition import one_dry_run
from fsm import bundle as bundle_module
from fsm import merkle
from fsm.audit import AuditFilter, VerifyReport
from fsm.canonical import canonical_json
from fsm.commitments import (
    checkpoint_digest,
    identity_digest,
    intent_event_hash,
    intents_digest,
    outcome_digest,
)
from fsm.definition import trading_definition
from fsm.ledger import GENESIS_HASH, seal
from fsm.records import GuardDecision
from fsm.views import export_bundle
from persistence import migrate
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.hotpath import DriverStatement, driver_transaction
from persistence.mapping import ledger_row
from persistence.store import SqlRunStore
from persistence.tables import (
    checkpoints,
    insert_written,
    intent_events,
    ledger,
    order_intents,
    runs,
)

START = datetime(2026, 1, 1, 9, 35, tzinfo=UTC)
PATH = (("created", None, "idle"), ("start", "idle", "generating_signals"),
        ("signals_generated", "generating_signals", "analyzing"),
        ("rebalance_needed", "analyzing", "planning"), ("plan_approved", "planning", "executing"),
        ("execution_completed", "executing", "done"))  # fmt: skip
GUARD = GuardDecision(name="max_orders", passed=True, reason="3 order(s), limit 50",
                      inputs={"orders": "3", "limit": "50"})  # fmt: skip


def _outputs() -> dict[int, tuple[str, dict[str, Any]]]:
    """The step outputs of one real dry run, plus an execution report: checkpoint payloads."""
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {c.seq: (c.state, c.output) for c in one_dry_run(Path(tmp))[2]}
    report = {"schema_version": 1, "placed": 2, "succeeded": 2, "trades_required": True,
              "outcome": "SUCCESS", "orders": []}  # fmt: skip
    return outputs | {6: ("executing", report)}


def _run_rows(
    n: int, definition_hash: str, outputs: dict[int, tuple[str, dict[str, Any]]],
    heads: list[tuple[str, int, str]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    at = START + timedelta(seconds=n * 189)  # ~167k runs over a year
    refused = n % 100 == 0
    run = {
        "run_id": f"run_{n:06d}", "correlation_id": f"c_{n}", "idempotency_key": None,
        "account_id": f"acct_{n % 300}", "mode": "paper", "as_of": at.date(),
        "state": "done", "status": "done", "version": 6, "parent_run_id": None,
        "definition_hash": definition_hash, "params": {}, "result": None, "failure": None,
        "head_hash": "", "created_at": at, "updated_at": at, "lease_owner": None,
        "lease_expires_at": None, "deadline_at": None,
    }  # fmt: skip
    rows, prev = [], GENESIS_HASH
    for seq, (event, source, target) in enumerate(PATH, start=1):
        ok = not (refused and event == "plan_approved")
        commits = {"identity": identity_digest(run)} if seq == 1 else {}
        if seq in outputs and ok:
            commits["checkpoint"] = checkpoint_digest(outputs[seq][0], 1, outputs[seq][1])
        if seq == len(PATH):
            commits |= {"intents": intents_digest(heads), "outcome": outcome_digest(None, None)}
        entry = seal(prev, run_id=f"run_{n:06d}", seq=seq, event=event if ok else "plan_approved",
                     source=source, target=target if ok else None, accepted=ok,
                     guards=(GUARD,) if seq > 1 else (), actor="engine" if n % 7 else "ops",
                     correlation_id=f"c_{n}", causation_id=f"run_{n:06d}#{seq - 1}",
                     occurred_at=at + timedelta(milliseconds=40 * seq), duration_ms=40,
                     commits=commits)  # fmt: skip
        rows.append(ledger_row(entry))
        prev = entry.hash
    run["head_hash"] = prev
    run["updated_at"] = at + timedelta(milliseconds=40 * len(PATH))  # its last row's time
    return run, rows


def _checkpoints(n: int, outputs: dict[int, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    refused = n % 100 == 0
    return [{"run_id": f"run_{n:06d}", "seq": seq, "state": state, "schema_version": 1,
             "output": output} for seq, (state, output) in outputs.items()
            if not (refused and seq == 5)]  # fmt: skip


def _intents(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    at = START + timedelta(seconds=n * 189)
    intents, events = [], []
    for k, symbol in enumerate(("AAA", "BBB")):
        coid = f"tf-{n:06d}-{symbol}"
        intent = {"client_order_id": coid, "run_id": f"run_{n:06d}", "position": k,
                  "symbol": symbol, "side": "BUY", "qty": Decimal("1.5"),
                  "reference_price": Decimal("100"), "status": "filled",
                  "broker_order_id": f"b{n}-{k}", "filled_qty": Decimal("1.5"),
                  "avg_price": Decimal("100"), "updated_at": at}  # fmt: skip
        event = {"client_order_id": coid, "n": 1, "run_id": f"run_{n:06d}",
                 "status": "filled", "broker_order_id": f"b{n}-{k}",
                 "filled_qty": Decimal("1.5"), "avg_price": Decimal("100"),
                 "recorded_at": at, "prev_hash": GENESIS_HASH}  # fmt: skip
        event["hash"] = intent_event_hash(GENESIS_HASH, intent, event)
        intents.append(intent)
        events.append(event)
    return intents, events


def build(path: Path, rows_wanted: int) -> SqlAudit:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    definition = trading_definition()
    SqlRunStore(engine).ensure_definition(definition.record())
    tables = (runs, ledger, checkpoints, order_intents, intent_events)
    statements = {t.name: DriverStatement(insert_written(t), engine.dialect) for t in tables}
    outputs = _outputs()
    runs_wanted, batch = rows_wanted // len(PATH), 2000
    for first in range(0, runs_wanted, batch):
        rows: dict[str, list[Any]] = {name: [] for name in statements}
        for n in range(first, min(first + batch, runs_wanted)):
            intents, events = _intents(n) if n % 3 == 0 else ([], [])
            heads = [(e["client_order_id"], 1, e["hash"]) for e in events]
            run, ledger_rows = _run_rows(n, definition.definition_hash, outputs, heads)
            rows["runs"].append(run)
            rows["ledger"] += ledger_rows
            times = {row["seq"]: row["occurred_at"] for row in ledger_rows}
            rows["checkpoints"] += [c | {"recorded_at": times[c["seq"]]}  # its ledger row's time
                                    for c in _checkpoints(n, outputs)]  # fmt: skip
            rows["order_intents"] += intents
            rows["intent_events"] += events
        with driver_transaction(engine) as tx:
            for name, statement in statements.items():
                tx.cursor.executemany(statement.sql, [statement.params(v) for v in rows[name]])
    return SqlAudit(engine)


def _timed(call: Callable[[], Any], repetitions: int) -> float:
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def queries(audit: SqlAudit, run_count: int) -> dict[str, Callable[[], Any]]:
    middle = run_count // 2
    day = START + timedelta(seconds=middle * 189)
    week = (day, day + timedelta(days=7))
    next_day = day + timedelta(days=1)
    one_run = f"run_{middle:06d}"
    return {
        "transitions_run": lambda: audit.transitions(AuditFilter(run_id=one_run)),
        "transitions_account_day": lambda: audit.transitions(
            AuditFilter(account_id="acct_42", since=day, until=day + timedelta(days=1))),
        "transitions_event_latest_100": lambda: audit.transitions(
            AuditFilter(event="plan_approved", limit=100)),
        "transitions_actor_latest_100": lambda: audit.transitions(
            AuditFilter(actor="ops", limit=100)),
        "transitions_state_day": lambda: audit.transitions(
            AuditFilter(state="executing", since=day, until=day + timedelta(days=1))),
        "transitions_window_latest_1000": lambda: audit.transitions(
            AuditFilter(since=week[0], until=week[1])),
        "rejected_all": lambda: audit.rejected(AuditFilter()),
        "time_in_state_day": lambda: audit.time_in_state(day, next_day, next_day),
        "orders_per_run_week": lambda: audit.orders("run", *week, 1000),
        "orders_per_definition_week": lambda: audit.orders("definition", *week, 1000),
        "export_run": lambda: export_bundle(SqlRunStore(audit.engine), one_run,
                                            audit.verify(one_run).as_json()),
        "verify_run": lambda: audit.verify(one_run),
    }  # fmt: skip


def _seal(folder: Path, rows_wanted: int, repetitions: int) -> dict[str, Any]:
    """Seal a digest over 10,000 runs changed since the last (3,000 in quick mode), each time
    on a fresh copy of the database; the floor: raw sqlite3 reading the same run heads, their
    Merkle tree and one signature. Then export one run's evidence bundle and verify it
    offline, against `verify --run` of that run in the database."""
    built = folder / "seal.db"
    build(built, min(rows_wanted, 60_000))
    key = Ed25519PrivateKey.generate()
    samples, floors = [], []
    for k in range(repetitions):
        copy = folder / f"seal-{k}.db"
        shutil.copyfile(built, copy)
        audit = SqlAudit(make_engine(f"sqlite:///{copy}"))
        started = time.perf_counter()
        audit.seal(key, START + timedelta(days=400), folder / f"digests-{k}")
        samples.append((time.perf_counter() - started) * 1000)
        floors.append(_seal_floor(built, key))
    one_run = "run_000300"
    public = key.public_key()

    def bundle() -> None:
        target = folder / f"bundle-{len(list(folder.glob('bundle-*')))}"
        audit.export_evidence(one_run, target)
        assert bundle_module.verify(target, [public]) == []

    median, floor = statistics.median(samples), statistics.median(floors)
    bundle_ms = _timed(bundle, repetitions)
    verify_run_ms = _timed(lambda: audit.verify(one_run), repetitions)
    return {
        "seal_ms_10k": round(median, 1),
        "seal_floor_ms_10k": round(floor, 1),
        "ratio_seal_to_floor": round(median / floor, 2),
        "bundle_export_verify_ms": bundle_ms,
        "verify_run_in_db_ms": verify_run_ms,
        "ratio_bundle_to_verify_run": round(bundle_ms / verify_run_ms, 2),
    }


def _verify_median(audit: SqlAudit, repetitions: int) -> tuple[float, VerifyReport]:
    """The median of whole verifications (seconds), and the last one's report."""
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        report = audit.verify()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), report


def _verify_floor(path: Path) -> float:
    """The least a verifier does, in one process: raw sqlite3 reading every ledger row and
    checkpoint and one SHA-256 of each, checking nothing (seconds)."""
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        for table in ("ledger", "checkpoints"):
            cursor = db.execute(f"SELECT * FROM {table} ORDER BY run_id, seq")
            while batch := cursor.fetchmany(5000):
                for row in batch:
                    hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()
    return time.perf_counter() - started


def _seal_floor(path: Path, key: Ed25519PrivateKey) -> float:
    """The least a seal must do: read every run head, hash the tree, sign once."""
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        heads = db.execute("SELECT run_id, version, head_hash FROM runs ORDER BY run_id").fetchall()
    root = merkle.root(heads)
    key.sign(canonical_json({"root": root, "runs": heads}).encode())
    return (time.perf_counter() - started) * 1000


def run(quick: bool = False) -> dict[str, Any]:
    rows_wanted, repetitions = (30_000, 3) if quick else (1_000_000, 7)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        audit = build(Path(tmp) / "audit.db", rows_wanted)
        build_s = time.perf_counter() - started
        calls = queries(audit, rows_wanted // len(PATH))
        query_ms = {name: _timed(call, repetitions) for name, call in calls.items()}
        verify_s, report = _verify_median(audit, 1 if quick else 3)
        floor_s = _verify_floor(Path(tmp) / "audit.db")
        sealing = _seal(Path(tmp), rows_wanted, repetitions)
    return {
        "benchmark": "audit",
        "ledger_rows": report.rows,
        "runs": report.runs,
        "build_s": round(build_s, 1),
        "query_ms": query_ms,
        "query_ms_max": max(query_ms.values()),
        "verify_s": round(verify_s, 2),
        "verify_floor_s": round(floor_s, 2),
        "ratio_verify_to_floor": round(verify_s / floor_s, 2),
        "verify_ok": report.ok,
        **sealing,
    }
