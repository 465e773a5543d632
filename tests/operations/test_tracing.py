"""OpenTelemetry traces: a span per run, step, attempt, transition and broker call, in the
trace the caller gave (``--traceparent`` or its current span), continued by a resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.ports import RunFilter
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from fsm.tracing import TRACEPARENT_PARAM
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Traced:
    """A run database, a paper broker and an engine whose spans land in memory."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.url = url or f"sqlite:///{folder / 'runs.db'}"
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        self.store = SqlRunStore(engine)
        self.paper = folder / "paper.db"
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def engine(self) -> Engine:
        market = BundledMarketData()
        ports = Ports(MomentumStrategy(market), market, PaperBroker(self.paper))
        return Engine(self.store, ports, Settings(), FixedClock(TRADING_DAY),
                      SequentialIdFactory(), tracer_provider=self.provider)  # fmt: skip

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def _named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    [parent] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return parent


def test_a_run_is_a_tree_of_spans_in_the_callers_trace(tmp_path: Path) -> None:
    site = Traced(tmp_path)
    run = site.engine().run(RunRequest(account_id="acct", traceparent=CALLER))
    assert run.state == "done"
    spans = site.spans()
    assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE_ID}
    [root] = _named(spans, "tradefsm.run")
    assert root.parent is not None
    assert format(root.parent.span_id, "016x") == "00f067aa0ba902b7"
    [drive] = _named(spans, "tradefsm.drive")
    assert _parent(drive, spans) is root
    assert drive.attributes["tradefsm.run_id"] == run.run_id
    steps = _named(spans, "tradefsm.step")
    assert [s.attributes["tradefsm.state"] for s in steps] == [
        "idle", "generating_signals", "analyzing", "planning", "executing"]  # fmt: skip
    assert all(_parent(s, spans) is drive for s in steps)
    for attempt in _named(spans, "tradefsm.attempt"):
        assert _parent(attempt, spans).attributes["tradefsm.state"] == attempt.attributes[
            "tradefsm.state"]  # fmt: skip
    transitions = _named(spans, "tradefsm.transition")
    assert [t.attributes["tradefsm.event"] for t in transitions] == [
        "created", "start", "signals_generated", "rebalance_needed", "plan_approved",
        "execution_completed"]  # fmt: skip
    assert all(t.attributes["tradefsm.guard_outcome"] == "passed" for t in transitions)
    assert all(t.attributes["tradefsm.accepted"] for t in transitions)
    submits = _named(spans, "tradefsm.broker submit")
    assert submits
    assert {_parent(_parent(s, spans), spans).name for s in submits} == {"tradefsm.step executing"}
    assert len(submits) == len(site.store.intents(run.run_id))


def test_a_refused_guard_is_the_transition_spans_outcome(tmp_path: Path) -> None:
    site = Traced(tmp_path)
    market = BundledMarketData()
    ports = Ports(MomentumStrategy(market), market, PaperBroker(site.paper))
    small = Engine(site.store, ports, Settings(max_orders=1), FixedClock(TRADING_DAY),
                   SequentialIdFactory(), tracer_provider=site.provider)  # fmt: skip
    run = small.run(RunRequest(account_id="acct"))
    assert run.state == "failed"
    [refused] = [t for t in _named(site.spans(), "tradefsm.transition")
                 if not t.attributes["tradefsm.accepted"]]  # fmt: skip
    assert refused.attributes["tradefsm.event"] == "plan_approved"
    assert refused.attributes["tradefsm.guard_outcome"] == "refused"
    assert "max_orders" in str(refused.attributes["tradefsm.guards_refused"])


def test_without_a_traceparent_the_callers_current_span_is_the_parent(tmp_path: Path) -> None:
    site = Traced(tmp_path)
    caller = site.provider.get_tracer("caller")
    with caller.start_as_current_span("nightly job") as job:
        run = site.engine().run(RunRequest(account_id="acct", mode="dry-run"))
    spans = site.spans()
    [root] = _named(spans, "tradefsm.run")
    assert _parent(root, spans).name == "nightly job"
    assert {s.context.trace_id for s in spans} == {job.get_span_context().trace_id}
    stored = site.store.get_run(run.run_id).params[TRACEPARENT_PARAM]
    assert stored.startswith(f"00-{root.context.trace_id:032x}-{root.context.span_id:016x}-")


def test_the_same_key_with_another_traceparent_is_the_same_run(tmp_path: Path) -> None:
    site = Traced(tmp_path)
    first = site.engine().run(RunRequest(account_id="acct", idempotency_key="k1",
                                         traceparent=CALLER))  # fmt: skip
    other = CALLER.replace(TRACE_ID, "1" * 32)
    again = site.engine().run(RunRequest(account_id="acct", idempotency_key="k1",
                                         traceparent=other))  # fmt: skip
    assert again.run_id == first.run_id


def _cli(site: Traced, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEFSM_", "OTEL_"))}
    env = {**clean, "TRADEFSM_DB": site.url, "TRADEFSM_PAPER_DB": str(site.paper), **env}
    return subprocess.run([sys.executable, "-m", "fsm", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_a_run_killed_and_resumed_elsewhere_continues_its_trace(tmp_path: Path) -> None:
    site = Traced(tmp_path)
    killed = _cli(site, "run", "--account", "acct", "--traceparent", CALLER,
                  TRADEFSM_FAILPOINTS="broker.submitted@2")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [run] = site.store.list_runs(RunFilter(status="active"))
    assert run.params[TRACEPARENT_PARAM] == CALLER  # the killed process recorded no span
    resumed = site.engine().resume(run.run_id)
    assert resumed.state == "done"
    spans = site.spans()
    [drive] = _named(spans, "tradefsm.drive")
    assert drive.parent is not None
    assert drive.parent.is_remote
    assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE_ID}
    assert _named(spans, "tradefsm.transition")[-1].attributes["tradefsm.event"] == (
        "execution_completed"
    )


@pytest.mark.parametrize("bad", ["00-xyz", f"01-{TRACE_ID}-00f067aa0ba902b7-01",
                                 f"00-{'0' * 32}-00f067aa0ba902b7-01"])  # fmt: skip
def test_a_malformed_traceparent_is_one_line_exit_2(tmp_path: Path, bad: str) -> None:
    site = Traced(tmp_path)
    for command in ("run", "submit"):
        done = _cli(site, command, "--traceparent", bad)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert "traceparent" in done.stderr
        assert "Traceback" not in done.stderr


def test_importing_tradefsm_sets_no_provider_and_prints_nothing() -> None:
    code = (
        "import fsm, fsm.engine, fsm.tracing\n"
        "from opentelemetry import trace\n"
        "assert trace._TRACER_PROVIDER is None, trace._TRACER_PROVIDER\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_a_provider_of_its_own_the_engine_uses_the_applications(tmp_path: Path) -> None:
    """The application sets the global provider (tradefsm never does); the engine's spans go
    there, in a process of its own so that this one's global provider stays unset."""
    code = f"""
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.operations.test_tracing import Traced
from fsm.requests import RunRequest
site = Traced(__import__("pathlib").Path({str(tmp_path)!r}))
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
from fsm.engine import Engine
from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.clock import FixedClock
from fsm.ids import SequentialIdFactory
from fsm.requests import Ports
from fsm.settings import Settings
from tests.conftest import TRADING_DAY
market = BundledMarketData()
ports = Ports(MomentumStrategy(market), market, PaperBroker(site.paper))
Engine(site.store, ports, Settings(), FixedClock(TRADING_DAY), SequentialIdFactory()).run(
    RunRequest(account_id="acct", mode="dry-run"))
print(sorted({{s.name.split()[0] for s in exporter.get_finished_spans()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=Path(__file__).parents[2])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(
        ["tradefsm.attempt", "tradefsm.broker", "tradefsm.drive", "tradefsm.run",
         "tradefsm.step", "tradefsm.transition"])  # fmt: skip
