"""Cost per persisted transition: the engine on SQLite vs raw ``sqlite3`` floors.

Every side uses the same file settings (WAL, synchronous=FULL, BEGIN IMMEDIATE); the engine
is measured again with TRADEFSM_DURABILITY=effects (``engine_effects``). The engine
drives dry-run runs over in-memory ports (no broker latency), so its figure is its own
overhead: step dispatch, validation, guards, hashing, serialisation and the transaction.
Two floors, measured in the same run:

- ``raw_sqlite3``: one ledger row, one fenced ``runs`` update and, where the engine stores
  one, a checkpoint, as one JSON body each into three tables without secondary indexes;
- ``raw_schema``: the same rows the engine stores (run row, ledger row, checkpoint, step
  attempt), byte for byte as a real engine run stored them, written with plain ``sqlite3``
  into the engine's migrated schema, so its indexes and foreign keys cost the floor what they
  cost the engine. Its ratio is the engine's own Python cost over what storing the same
  data in the same tables costs at least.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from fsm.attempts import alarm_or_thread
from fsm.clock import SystemClock
from fsm.commitments import checkpoint_digest, identity_digest, outcome_digest
from fsm.engine import Engine
from fsm.ids import UuidFactory
from fsm.kinds import Durability, Mode
from fsm.pluginrecords import AccountSnapshot, PriceSnapshot, SignalSet, TargetWeight
from fsm.ports import RunContext
from fsm.records import Checkpoint, LedgerEntry, RunRecord
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import SQLITE_PRAGMAS, make_engine
from persistence.store import SqlRunStore

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")
AS_OF = SystemClock().now().date()  # the day the runs' own clock reads


class Signals:
    def generate(self, ctx: RunContext) -> SignalSet:
        weight = Decimal("0.125")
        return SignalSet(
            as_of=ctx.as_of,
            strategy="bench",
            targets=tuple(TargetWeight(symbol=s, weight=weight) for s in SYMBOLS),
        )


class Market:
    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        return PriceSnapshot(as_of=as_of, prices={s: Decimal("100") for s in symbols})


class Account:
    def account(self) -> AccountSnapshot:
        return AccountSnapshot(
            account_id="bench", cash=Decimal(100000), buying_power=Decimal(100000)
        )


def _engine_runs(folder: Path, runs: int, durability: Durability) -> tuple[float, int]:
    engine = make_engine(f"sqlite:///{folder / f'engine-{durability}.db'}")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    fsm_engine = Engine(
        store, Ports(Signals(), Market(), Account()),  # type: ignore[arg-type]  # no orders in dry-run
        Settings(durability=durability), SystemClock(), UuidFactory(),
        timeouts=alarm_or_thread,  # as the CLI: a program that owns its process and its signals
    )  # fmt: skip
    transitions = 0
    started = time.perf_counter()
    for n in range(runs):
        run = fsm_engine.run(RunRequest(account_id=f"acct-{n}", mode=Mode.DRY_RUN, as_of=AS_OF))
        transitions += run.version
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, transitions


def _raw_runs(folder: Path, runs: int, shapes: list[dict[str, Any]]) -> tuple[float, int]:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    db.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, state TEXT, status TEXT, version INT,"
        " head_hash TEXT, updated_at TEXT, result TEXT, failure TEXT, body TEXT);"
        "CREATE TABLE ledger (run_id TEXT, seq INT, body TEXT, PRIMARY KEY (run_id, seq));"
        "CREATE TABLE checkpoints (run_id TEXT, seq INT, body TEXT, PRIMARY KEY (run_id, seq));"
    )
    transitions = 0
    now = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    for n in range(runs):
        run_id = f"run_{n}"
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO runs VALUES (?, 'idle', 'active', 1, ?, ?, NULL, NULL, ?)",
                   (run_id, "h" * 64, now, shapes[0]["run"]))  # fmt: skip
        db.execute("INSERT INTO ledger VALUES (?, 1, ?)", (run_id, shapes[0]["ledger"]))
        db.execute("COMMIT")
        for seq, shape in enumerate(shapes[1:], start=2):
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE runs SET state = ?, status = 'active', version = ?, head_hash = ?,"
                " updated_at = ? WHERE run_id = ? AND version = ?",
                (shape["state"], seq, "h" * 64, now, run_id, seq - 1),
            )
            db.execute("INSERT INTO ledger VALUES (?, ?, ?)", (run_id, seq, shape["ledger"]))
            if shape["checkpoint"]:
                db.execute("INSERT INTO checkpoints VALUES (?, ?, ?)",
                           (run_id, seq, shape["checkpoint"]))  # fmt: skip
            db.execute("COMMIT")
        transitions += len(shapes)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, transitions


def _stored_rows(folder: Path) -> dict[str, Any]:
    """What one real engine dry run stored, as ``sqlite3`` reads it back (its text forms)."""
    run, _ledger, _checkpoints = one_dry_run(folder)
    db = sqlite3.connect(folder / "shape.db")
    db.row_factory = sqlite3.Row

    def rows(table: str, order: str) -> list[dict[str, Any]]:
        found = db.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}",
                           (run.run_id,))  # fmt: skip
        return [dict(r) for r in found]

    stored = {
        "definition": dict(db.execute("SELECT * FROM definitions").fetchone()),
        "run": rows("runs", "run_id")[0],
        "ledger": rows("ledger", "seq"),
        "checkpoints": {r["seq"]: r for r in rows("checkpoints", "seq")},
        "attempts": {r["state"]: r for r in rows("step_attempts", "started_at")},
    }
    db.close()
    return stored


def _insert(table: str, row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values())


def _schema_runs(folder: Path, runs: int, stored: dict[str, Any]) -> tuple[float, int]:
    """The engine's rows for ``runs`` runs, written with plain sqlite3 into its own schema."""
    engine = make_engine(f"sqlite:///{folder / 'schema.db'}")
    migrate.upgrade(engine)
    engine.dispose()
    db = sqlite3.connect(folder / "schema.db", isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    db.execute(*_insert("definitions", stored["definition"]))
    first, ledger = stored["run"], stored["ledger"]
    # As the engine: the status column is written by the transition that ends the run only.
    move = ("UPDATE runs SET state = ?, version = ?, head_hash = ?, updated_at = ?,"
            " lease_expires_at = ?, deadline_at = ?, result = ?, failure = ?, status = ?"
            " WHERE run_id = ? AND version = ? AND lease_owner = ?")  # fmt: skip
    step = move.replace(", status = ?", "").replace("WHERE", "WHERE status = 'active' AND")
    started = time.perf_counter()
    for n in range(runs):
        run_id = f"{first['run_id']}-{n}"
        row = first | {
            "run_id": run_id,
            "account_id": f"acct-{n}",
            "version": 1,
            "state": ledger[0]["target"],
            "status": "active",
            "result": None,
        }
        db.execute("BEGIN IMMEDIATE")
        db.execute(*_insert("runs", row))
        db.execute(*_insert("ledger", ledger[0] | {"run_id": run_id}))
        db.execute("COMMIT")
        for entry in ledger[1:]:
            last = entry["seq"] == len(ledger)
            db.execute("BEGIN IMMEDIATE")
            values = (entry["target"], entry["seq"], entry["hash"], entry["occurred_at"],
                      first["lease_expires_at"], first["deadline_at"],
                      first["result"] if last else None, None)  # fmt: skip
            fence = (run_id, entry["seq"] - 1, first["lease_owner"])
            if last:
                db.execute(move, (*values, first["status"], *fence))
            else:
                db.execute(step, (*values, *fence))
            db.execute(*_insert("ledger", entry | {"run_id": run_id}))
            if entry["seq"] in stored["checkpoints"]:
                db.execute(*_insert("checkpoints", stored["checkpoints"][entry["seq"]]
                                    | {"run_id": run_id}))  # fmt: skip
            if entry["source"] in stored["attempts"]:
                db.execute(*_insert("step_attempts", stored["attempts"][entry["source"]]
                                    | {"run_id": run_id}))  # fmt: skip
            db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, runs * len(ledger)


def one_dry_run(folder: Path) -> tuple[RunRecord, list[LedgerEntry], list[Checkpoint]]:
    """One real engine dry run in its own file: its run row, ledger and checkpoints."""
    engine = make_engine(f"sqlite:///{folder / 'shape.db'}")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    run = Engine(
        store, Ports(Signals(), Market(), Account()),  # type: ignore[arg-type]
        Settings(), SystemClock(), UuidFactory(),
    ).run(RunRequest(account_id="shape", mode=Mode.DRY_RUN, as_of=AS_OF))  # fmt: skip
    found = store.ledger(run.run_id), store.checkpoints(run.run_id)
    engine.dispose()
    return run, *found


def _shapes(folder: Path) -> list[dict[str, Any]]:
    """Payloads of the same size as the engine's rows, taken from one real engine run."""
    run, ledger, checkpoints = one_dry_run(folder)
    outputs = {c.seq: json.dumps(c.output) for c in checkpoints}
    return [
        {"state": e.target, "ledger": e.model_dump_json(), "checkpoint": outputs.get(e.seq),
         "run": run.model_dump_json()}
        for e in ledger
    ]  # fmt: skip


def _commitment_us(folder: Path, repetitions: int) -> float:
    """What the commitments add per transition: identity, checkpoint and outcome digests."""
    run, _ledger, checkpoints = one_dry_run(folder)
    outputs = [(c.state, c.schema_version, c.output) for c in checkpoints]
    identity = run.model_dump()
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        for _ in range(100):
            identity_digest(identity)
            for state, version, output in outputs:
                checkpoint_digest(state, version, output)
            outcome_digest(run.result, run.failure)
        samples.append((time.perf_counter() - started) / 100 / run.version * 1e6)
    return round(statistics.median(samples), 1)


def run(quick: bool = False) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # quiet
    repetitions, runs = (3, 20) if quick else (7, 150)
    engine_us, effects_us, raw_us, schema_us = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        shapes = _shapes(Path(tmp))
        (Path(tmp) / "stored").mkdir()
        stored = _stored_rows(Path(tmp) / "stored")
        for rep in range(repetitions):
            folder = Path(tmp) / f"rep{rep}"
            folder.mkdir()
            elapsed, count = _raw_runs(folder, runs, shapes)
            raw_us.append(elapsed / count * 1e6)
            elapsed, count = _schema_runs(folder, runs, stored)
            schema_us.append(elapsed / count * 1e6)
            elapsed, count = _engine_runs(folder, runs, Durability.STRICT)
            engine_us.append(elapsed / count * 1e6)
            elapsed, count = _engine_runs(folder, runs, Durability.EFFECTS)
            effects_us.append(elapsed / count * 1e6)
        (Path(tmp) / "commit").mkdir()
        commitment_us = _commitment_us(Path(tmp) / "commit", repetitions)
    engine_median, raw_median = statistics.median(engine_us), statistics.median(raw_us)
    schema_median, effects_median = statistics.median(schema_us), statistics.median(effects_us)
    return {
        "benchmark": "transition",
        "repetitions": repetitions,
        "runs_per_repetition": runs,
        "transitions_per_run": len(shapes),
        "engine_us_per_transition_median": round(engine_median, 1),
        "raw_sqlite3_us_per_transition_median": round(raw_median, 1),
        "ratio_engine_to_raw": round(engine_median / raw_median, 2),
        "raw_schema_us_per_transition_median": round(schema_median, 1),
        "ratio_engine_to_schema_floor": round(engine_median / schema_median, 2),
        "commitment_hashing_us_per_transition": commitment_us,
        # TRADEFSM_DURABILITY=effects: 3 of a dry run's 5 commits unflushed (docs/resume.md)
        "engine_effects_us_per_transition_median": round(effects_median, 1),
        "ratio_effects_to_strict": round(effects_median / engine_median, 2),
        "load_avg_1m": os.getloadavg()[0],
        "engine_us_samples": [round(x, 1) for x in engine_us],
        "engine_effects_us_samples": [round(x, 1) for x in effects_us],
        "raw_us_samples": [round(x, 1) for x in raw_us],
        "raw_schema_us_samples": [round(x, 1) for x in schema_us],
    }
