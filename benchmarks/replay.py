"""What-if replay of 10,000 recorded runs (SQLite): `tradefsm replay --set
max_order_notional=…` over their history.

Builds, in bulk, 10,000 paper runs of 7 ledger rows each with the guard decisions a paper run
records (the plan guards decided by the real guard functions on plans of 20 sizes, so a
lowered notional limit refuses about half of them), then times the replay as the command
does it: open the file read-only, read the policy history and every decision of the selected
runs, decide the policy guards again under the proposed limit (median of repetitions, in
seconds), and once the whole command in a process of its own (``command_s``, start-up
included). Target: replay_s_10k ≤ 10.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fsm.definition import trading_definition
from fsm.guardcontext import GuardContext, decision
from fsm.guards import GUARDS
from fsm.kinds import Mode
from fsm.ledger import GENESIS_HASH, seal
from fsm.limits import settings_limits
from fsm.pluginrecords import Side
from fsm.ports import RunFilter
from fsm.records import GuardDecision, PlanItem, RebalancePlan
from fsm.replay import replay
from fsm.replaypolicy import proposed_policy
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.hotpath import DriverStatement, driver_transaction
from persistence.mapping import ledger_row
from persistence.replay import recorded_transitions
from persistence.store import SqlRunStore
from persistence.tables import insert_written, ledger, runs

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
SIZES = 20  # plan sizes: the largest order from $2,500 to $50,000
LOWERED = [("max_order_notional", "25000")]  # refuses the plans of the larger half
PASSED = {
    "start": (decision("mode_allowed", True, "mode allowed", mode="paper"),
              decision("as_of_fresh", True, "as_of is 0 day(s) old", as_of=START.date(),
                       today=START.date(), limit=5, source="policy v1")),
    "signals_generated": (decision("has_signals", True, "8 target weight(s)", count=8),),
    "rebalance_needed": (decision("prices_sane", True, "8 price(s) plausible", refused=0,
                                  min="0.01", max="1000000", max_move="0.5"),),
    "execution_completed": (decision("execution_succeeded", True, "outcome SUCCESS",
                                     outcome="SUCCESS", placed=8, succeeded=8),),
}  # fmt: skip
PATH = (("created", None, "idle"), ("start", "idle", "generating_signals"),
        ("signals_generated", "generating_signals", "analyzing"),
        ("rebalance_needed", "analyzing", "planning"), ("plan_approved", "planning", "executing"),
        ("execution_completed", "executing", "done"))  # fmt: skip


def _plan_decisions() -> list[tuple[GuardDecision, ...]]:
    """The plan_approved decisions of plans of each size, by the real plan guards."""
    names = ("trades_required", "max_orders", "order_notional_limit", "total_notional_limit",
             "order_qty_limit", "buying_power", "approval_not_needed")  # fmt: skip
    settings = Settings()
    out = []
    for size in range(1, SIZES + 1):
        amount = Decimal(2500 * size)
        items = tuple(PlanItem(symbol=f"S{k}", action=Side.BUY, target_value=amount,
                               current_value=Decimal(0), amount=amount, qty=amount / 100,
                               price=Decimal(100), priority=1) for k in range(8))  # fmt: skip
        plan = RebalancePlan(as_of=START.date(), portfolio_value=amount * 8,
                             buying_power=amount * 8, min_trade_amount=Decimal(1),
                             items=items)  # fmt: skip
        ctx = GuardContext(settings, Mode.PAPER, START.date(), START.date(), plan,
                           limits=settings_limits(settings))  # fmt: skip
        out.append(tuple(GUARDS[name](ctx) for name in names))
    return out


def _rows(n: int, definition_hash: str, plans: list[tuple[GuardDecision, ...]]) -> tuple[
        dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    at, run_id = START + timedelta(seconds=n * 30), f"run_{n:06d}"
    run = {"run_id": run_id, "correlation_id": f"c_{n}", "idempotency_key": None,
           "account_id": f"acct_{n % 50}", "mode": "paper", "as_of": at.date(), "state": "done",
           "status": "done", "version": len(PATH), "parent_run_id": None,
           "definition_hash": definition_hash, "params": {}, "result": None, "failure": None,
           "head_hash": "", "created_at": at, "updated_at": at, "lease_owner": None,
           "lease_expires_at": None, "deadline_at": None}  # fmt: skip
    rows, prev = [], GENESIS_HASH
    for seq, (event, source, target) in enumerate(PATH, start=1):
        guards = plans[n % SIZES] if event == "plan_approved" else PASSED.get(event, ())
        entry = seal(prev, run_id=run_id, seq=seq, event=event, source=source, target=target,
                     accepted=True, guards=guards, actor="engine", correlation_id=f"c_{n}",
                     causation_id=None, occurred_at=at + timedelta(milliseconds=40 * seq),
                     duration_ms=40, commits={})  # fmt: skip
        rows.append(ledger_row(entry))
        prev = entry.hash
    run["head_hash"] = prev
    return run, rows


def build(path: Path, run_count: int) -> str:
    """A run database of ``run_count`` recorded paper runs; its URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url, create=True)
    migrate.upgrade(engine)
    definition = trading_definition()
    SqlRunStore(engine).ensure_definition(definition.record())
    statements = [DriverStatement(insert_written(t), engine.dialect) for t in (runs, ledger)]
    plans = _plan_decisions()
    for first in range(0, run_count, 2000):
        built = [_rows(n, definition.definition_hash, plans)
                 for n in range(first, min(first + 2000, run_count))]  # fmt: skip
        batches = ([run for run, _ in built], [row for _, rows in built for row in rows])
        with driver_transaction(engine) as tx:
            for statement, values in zip(statements, batches, strict=True):
                tx.cursor.executemany(statement.sql, [statement.params(v) for v in values])
    engine.dispose()
    return url


def replay_once(url: str) -> dict[str, Any]:
    """What `tradefsm replay --set max_order_notional=25000` does, on a read-only engine."""
    engine = make_engine(url, read_only=True)
    try:
        history = SqlRunStore(engine).policy_history()
        policy_of = proposed_policy(history, [(None, dict(LOWERED))], {}, START)
        summary: dict[str, Any] = replay(recorded_transitions(engine, RunFilter()),
                                         policy_of).summary()  # fmt: skip
        return summary
    finally:
        engine.dispose()


def command_once(url: str) -> float:
    """Seconds of the whole command in a process of its own (start-up included); exit 13."""
    command = [sys.executable, "-m", "fsm", "replay", "--db", url, "--json",
               *(f"--set={key}={value}" for key, value in LOWERED)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    assert done.returncode == 13, done.stderr
    return time.perf_counter() - started


def run(quick: bool = False) -> dict[str, Any]:
    run_count, repetitions = (500, 2) if quick else (10_000, 5)
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp) / "replay.db", run_count)
        samples, summary = [], {}
        for _ in range(repetitions):
            started = time.perf_counter()
            summary = replay_once(url)
            samples.append(time.perf_counter() - started)
        command_s = command_once(url)
    return {
        "command_s": round(command_s, 3),
        "runs": summary["runs"],
        "decisions": summary["decisions"],
        "changed": summary["changed"],
        "replay_s_10k": round(statistics.median(samples) * 10_000 / run_count, 3),
        "replay_s_median": round(statistics.median(samples), 3),
        "target_s_10k": 10,
    }
