"""Prometheus metrics scraped over HTTP and parsed with prometheus-client's own parser carry
the values the run database holds, on SQLite and PostgreSQL: the console's /metrics (behind
its token) and the worker's metrics server."""

from __future__ import annotations

import itertools
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.console.app import Console
from fsm.halts import next_halt
from fsm.ids import SequentialIdFactory
from fsm.metrics import STATE_SECONDS, RunsCollector, metrics_registry, serving_metrics
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.metrics import FROZEN_MARGIN, SqlMetrics
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for

TOKEN = "metrics-token-1"
FAST = Settings(retry_base_seconds=0, retry_max_seconds=0)


@dataclass
class History:
    store: SqlRunStore
    clock: FixedClock


@pytest.fixture
def history(migrated_url: str, tmp_path: Path) -> History:
    """Done runs with orders, a guard refusal, a run waiting for approval, a halt, a digest;
    the clock moves 700 ms per reading, so states take measurable time."""
    store = SqlRunStore(make_engine(migrated_url))
    clock = FixedClock(TRADING_DAY, step=timedelta(milliseconds=700))
    for account, settings in (("alpha", FAST), ("beta", FAST.model_copy(update={"max_orders": 2})),
                              ("gamma", FAST.model_copy(update={"approval_notional": 1000})),
                              ("delta", FAST)):  # fmt: skip
        broker = PaperBroker(tmp_path / f"{account}.db")
        engine = make_engine_for(store, broker, clock, settings, ids=SequentialIdFactory(account))
        engine.run(RunRequest(account_id=account))
    store.record_halt(next_halt(store.halts(), "halt", "beta", "ops-ann", "broker outage",
                                "test", clock.now()))  # fmt: skip
    SqlAudit(store.engine).seal(Ed25519PrivateKey.generate(), clock.now(), tmp_path / "digests")
    return History(store, clock)


def _families(text: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    found: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text):
        samples = found.setdefault(family.name, {})
        for s in family.samples:
            samples[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def _value(families: dict, family: str, sample: str, **labels: str) -> float:  # type: ignore[type-arg]
    return families[family][sample, tuple(sorted(labels.items()))]  # type: ignore[no-any-return]


def _scrape_console(h: History) -> str:
    reader = h.store.engine
    console = Console(SqlRunStore(reader), SqlAudit(reader), TOKEN, clock=h.clock,
                      metrics=SqlMetrics(reader))  # fmt: skip
    client = TestClient(console.app())
    refused = client.get("/metrics", follow_redirects=False)
    assert refused.status_code == 303  # behind the sign-in like every page
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_the_console_metrics_match_the_database(history: History) -> None:
    _assert_matches(history.store, _families(_scrape_console(history)))
    assert families_of(history)["tradefsm_runs_stuck"] == {}  # ended, or waiting for a person


def test_a_scrape_after_new_runs_still_matches_the_database(
    history: History, tmp_path: Path
) -> None:
    """Totals of finished runs are kept between scrapes; new runs are added to them."""
    later = FixedClock(history.clock.now() + 2 * FROZEN_MARGIN)
    collector = RunsCollector(SqlMetrics(history.store.engine, later), history.store, later)
    registry = metrics_registry(collector)
    _assert_matches(history.store, _families(generate_latest(registry).decode()))
    broker = PaperBroker(tmp_path / "zeta.db")
    make_engine_for(history.store, broker, later, FAST, ids=SequentialIdFactory("zeta")).run(
        RunRequest(account_id="zeta")
    )
    _assert_matches(history.store, _families(generate_latest(registry).decode()))


def families_of(history: History) -> dict:  # type: ignore[type-arg]
    return _families(_scrape_console(history))


def _assert_matches(store: SqlRunStore, families: dict) -> None:  # type: ignore[type-arg]
    everything = store.list_runs(RunFilter(limit=100))
    by_state = Counter((r.state, str(r.status)) for r in everything)
    assert by_state[("awaiting_approval", "active")] == 1
    for (state, status), n in by_state.items():
        assert _value(families, "tradefsm_runs", "tradefsm_runs", state=state, status=status) == n
    rows = [e for r in everything for e in store.ledger(r.run_id)]
    accepted = Counter(e.event for e in rows if e.accepted)
    for event, n in accepted.items():
        assert _value(families, "tradefsm_transitions", "tradefsm_transitions_total",
                      event=event) == n  # fmt: skip
    refused = [e for e in rows if not e.accepted]
    assert refused, "the history has a guard refusal"
    for e in refused:
        for guard in [g.name for g in e.guards if not g.passed]:
            assert _value(families, "tradefsm_guard_refusals", "tradefsm_guard_refusals_total",
                          event=e.event, guard=guard) >= 1  # fmt: skip
    intents = [i for r in everything for i in store.intents(r.run_id)]
    placed = sum(i.status != "pending" for i in intents)
    assert placed > 0
    assert _value(families, "tradefsm_orders_placed", "tradefsm_orders_placed_total") == placed
    assert _value(families, "orders_placed", "orders_placed_total") == placed
    filled = sum(i.status == "filled" for i in intents)
    assert _value(families, "orders_succeeded", "orders_succeeded_total") == filled
    assert _value(families, "tradefsm_orders_filled", "tradefsm_orders_filled_total") == filled
    assert _value(families, "tradefsm_halts_in_force", "tradefsm_halts_in_force") == 1
    assert _value(families, "tradefsm_halted", "tradefsm_halted", scope="beta") == 1
    assert _value(families, "tradefsm_digest_age_seconds", "tradefsm_digest_age_seconds") > 0
    _assert_times_match(store, families)


def _assert_times_match(store: SqlRunStore, families: dict) -> None:  # type: ignore[type-arg]
    """The time-in-state and run duration histograms agree with the ledger and the runs."""
    spent: dict[str, list[float]] = {}
    for run in store.list_runs(RunFilter(limit=100)):
        accepted = [e for e in store.ledger(run.run_id) if e.accepted]
        for before, after in itertools.pairwise(accepted):
            if before.target == after.source and after.source is not None:
                seconds = (after.occurred_at - before.occurred_at).total_seconds()
                spent.setdefault(after.source, []).append(seconds)
    assert spent
    name = "tradefsm_time_in_state_seconds"
    for state, seconds in spent.items():
        assert _value(families, name, f"{name}_count", state=state) == len(seconds)
        assert _value(families, name, f"{name}_sum", state=state) == pytest.approx(sum(seconds))
        for bound in STATE_SECONDS:
            below = sum(s <= bound for s in seconds)
            assert _value(families, name, f"{name}_bucket", state=state,
                          le=repr(float(bound))) == below  # fmt: skip
    finished = [r for r in store.list_runs(RunFilter(limit=100)) if r.state in ("done", "failed")]
    assert _value(families, "workflow_duration_ms", "workflow_duration_ms_count") == len(finished)
    total = sum((r.updated_at - r.created_at).total_seconds() * 1000 for r in finished)
    assert _value(families, "workflow_duration_ms", "workflow_duration_ms_sum") == pytest.approx(
        total
    )


def test_a_run_nobody_drives_is_counted_stuck(history: History, tmp_path: Path) -> None:
    store, clock = history.store, history.clock
    broker = PaperBroker(tmp_path / "epsilon.db")
    engine = make_engine_for(store, broker, clock, FAST, ids=SequentialIdFactory("epsilon"))
    held = engine.create(RunRequest(account_id="epsilon"))  # its driver stops here
    stuck = "tradefsm_runs_stuck"
    assert _families(_scrape_console(history))[stuck] == {}  # its lease is live
    later = FixedClock(clock.now() + timedelta(days=1))
    families = _families(_scrape_console(History(store, later)))
    assert _value(families, stuck, stuck, state=held.state) == 1


def test_the_worker_metrics_server_answers_over_http(history: History) -> None:
    collector = RunsCollector(SqlMetrics(history.store.engine), history.store, history.clock)
    registry = metrics_registry(collector)
    assert collector not in REGISTRY._collector_to_names  # never the global default registry
    with serving_metrics(registry, "127.0.0.1", 0) as port:
        answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30)
        text = answer.read().decode()
    families = _families(text)
    runs = len(history.store.list_runs(RunFilter(limit=100)))
    assert sum(families["tradefsm_runs"].values()) == runs
