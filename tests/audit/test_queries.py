"""The audit queries answer who or what moved a run, when, why and on which inputs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fsm.adapters.paper_broker import PaperBroker
from fsm.audit import AuditFilter, percentile
from fsm.clock import FixedClock
from fsm.definition import trading_definition
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.views import export_bundle
from tests.audit.conftest import History
from tests.conftest import TRADING_DAY, make_engine_for


def test_transitions_by_run_account_event_actor_and_window(history: History) -> None:
    audit = history.audit
    rows = audit.transitions(AuditFilter(run_id=history.done.run_id))
    assert [r["seq"] for r in rows] == [6, 5, 4, 3, 2, 1]  # newest first
    assert rows[0]["event"] == "execution_completed"
    assert rows[0]["account_id"] == "alpha"
    assert rows[0]["definition_hash"] == history.done.definition_hash
    assert {r["run_id"] for r in audit.transitions(AuditFilter(account_id="beta"))} == {
        history.refused.run_id
    }
    assert {r["run_id"] for r in audit.transitions(AuditFilter(event="plan_reported"))} == {
        history.dry.run_id
    }
    by_ann = audit.transitions(AuditFilter(actor="trader-ann"))
    assert len(by_ann) == 6 + 6 + 5  # done, refused, dry
    assert audit.transitions(AuditFilter(actor="someone-else")) == []
    assert audit.transitions(AuditFilter(since=TRADING_DAY + timedelta(days=1))) == []
    entering = audit.transitions(AuditFilter(state="executing"))
    assert {(r["source"], r["target"]) for r in entering} == {
        ("planning", "executing"), ("executing", "done")
    }  # fmt: skip
    assert len(audit.transitions(AuditFilter(limit=3))) == 3
    json.dumps(rows)  # JSON-ready: timestamps as text


def test_rejected_names_the_guard_its_reason_and_its_inputs(history: History) -> None:
    [row] = history.audit.rejected(AuditFilter())
    assert (row["run_id"], row["event"], row["source"]) == (
        history.refused.run_id, "plan_approved", "planning"
    )  # fmt: skip
    assert row["guard"] == "max_orders"
    assert row["reason"].endswith("limit 2")
    refusing = next(g for g in row["guards"] if g["name"] == "max_orders")
    assert refusing["inputs"]["limit"] == "2"
    assert history.audit.rejected(AuditFilter(account_id="alpha")) == []


def test_time_in_state_percentiles(history: History) -> None:
    now = TRADING_DAY + timedelta(hours=1)
    timings = {t.state: t for t in history.audit.time_in_state(None, None, now)}
    assert timings["idle"].count == 3  # every run left idle once
    assert timings["executing"].count == 1
    assert all(t.p50_ms <= t.p95_ms <= t.max_ms for t in timings.values())
    assert timings["executing"].max_ms > 0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0


def test_time_in_state_counts_runs_still_in_a_state_in_machine_order(
    history: History, tmp_path: Path
) -> None:
    parker = make_engine_for(history.store, PaperBroker(tmp_path / "delta.db"),
                             FixedClock(TRADING_DAY), Settings(approval_notional=1000),
                             ids=SequentialIdFactory("delta"))  # fmt: skip
    waiting = parker.run(RunRequest(account_id="delta"))
    now = waiting.updated_at + timedelta(minutes=30)
    timings = history.audit.time_in_state(None, None, now)
    states = [t.state for t in timings]
    assert states == [s for s in trading_definition().states if s in states]  # the chart's order
    shown = {t.state: t for t in timings}
    parked = shown["awaiting_approval"]
    assert (parked.count, parked.still, parked.longest_run_id) == (1, 1, waiting.run_id)
    assert 30 * 60_000 <= parked.max_ms <= 31 * 60_000  # up to now
    assert shown["executing"].still == 0
    assert shown["executing"].longest_run_id == history.done.run_id
    before = history.audit.time_in_state(None, TRADING_DAY - timedelta(days=1), now)
    assert before == []  # a window that ends before every stay


def test_orders_per_run_and_per_definition(history: History) -> None:
    per_run = history.audit.orders("run", None, None, 10)
    assert per_run == [{"run": history.done.run_id, "runs": 1, "orders": 8, "filled": 8}]
    [per_definition] = history.audit.orders("definition", None, None, 10)
    assert per_definition["definition_hash"] == history.done.definition_hash
    assert per_definition["orders"] == 8


def test_export_is_one_self_contained_bundle(history: History) -> None:
    run_id = history.done.run_id
    bundle = export_bundle(history.store, run_id, history.audit.verify(run_id).as_json())
    assert bundle["run"]["run_id"] == history.done.run_id
    assert len(bundle["ledger"]) == 6
    assert [c["state"] for c in bundle["checkpoints"]][-1] == "executing"
    assert len(bundle["intents"]) == 8
    first = [h for h in bundle["intent_history"]
             if h["client_order_id"] == bundle["intents"][0]["client_order_id"]]  # fmt: skip
    assert [h["status"] for h in first] == ["pending", "filled", "filled"]
    assert bundle["definition"]["definition_hash"] == history.done.definition_hash
    assert bundle["definition"]["mermaid"].startswith("stateDiagram-v2")
    assert bundle["verification"]["ok"] is True
    json.dumps(bundle)
