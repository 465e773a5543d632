"""Prometheus metrics read from the run database at scrape time (docs/operations.md).

Every scrape asks the database (``MetricsSource``) and the run store, so any process — a
worker, the console, a second worker — reports the same values, and a restart loses
nothing; only the retry counters are the process's own (``fsm.retrycounts``). The metrics
live in a registry of tradefsm's own (``metrics_registry``), never in prometheus-client's
global default registry.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from fsm.clock import Clock
from fsm.errors import InvalidConfiguration, TradeFsmError
from fsm.halts import in_force
from fsm.ports import RunStore
from fsm.retrycounts import BROKER, DATABASE, RETRIES, STEP
from fsm.stuck import STUCK_AFTER, stuck_runs

K = TypeVar("K")
# Upper bounds of the histograms' buckets (+Inf is added).
STATE_SECONDS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)
RUN_MS = (100, 500, 1000, 5000, 10_000, 60_000, 300_000, 3_600_000, 86_400_000)


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound (``counts[i]``: observations ≤ ``bounds[i]``)."""

    bounds: Sequence[float]
    counts: Sequence[int]
    count: int
    total: float

    def buckets(self) -> list[tuple[str, float]]:
        pairs = zip(self.bounds, self.counts, strict=True)
        finite = [(repr(float(b)), float(c)) for b, c in pairs]
        return [*finite, ("+Inf", float(self.count))]

    def plus(self, other: Histogram) -> Histogram:
        counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        return Histogram(self.bounds, counts, self.count + other.count, self.total + other.total)


@dataclass(frozen=True)
class MetricsSnapshot:
    """What the database holds, aggregated (labels as tuples of label values)."""

    runs: Mapping[tuple[str, str], int]  # (state, status) -> runs
    transitions: Mapping[str, int]  # event -> accepted ledger rows
    refusals: Mapping[tuple[str, str], int]  # (event, guard) -> refused ledger rows
    time_in_state: Mapping[str, Histogram]  # state -> seconds spent in it (left it)
    run_duration_ms: Histogram  # finished runs: created to finished
    orders: Mapping[str, int]  # order intent status -> intents
    newest_digest_at: datetime | None = None

    def plus(self, other: MetricsSnapshot) -> MetricsSnapshot:
        """The totals of two disjoint sets of runs."""
        states = {**self.time_in_state}
        for state, h in other.time_in_state.items():
            states[state] = states[state].plus(h) if state in states else h
        newest = [d for d in (self.newest_digest_at, other.newest_digest_at) if d is not None]
        return MetricsSnapshot(
            runs=_summed(self.runs, other.runs),
            transitions=_summed(self.transitions, other.transitions),
            refusals=_summed(self.refusals, other.refusals),
            time_in_state=states,
            run_duration_ms=self.run_duration_ms.plus(other.run_duration_ms),
            orders=_summed(self.orders, other.orders),
            newest_digest_at=max(newest, default=None),
        )


def _summed(a: Mapping[K, int], b: Mapping[K, int]) -> dict[K, int]:
    return {key: a.get(key, 0) + b.get(key, 0) for key in {*a, *b}}


class MetricsSource(Protocol):
    """Aggregates of the whole run database, as of one scrape. ``snapshot`` raises
    StorageError (or DatabaseUnavailable) as the store does."""

    def snapshot(self) -> MetricsSnapshot: ...


class RunsCollector(Collector):
    """Turns one database snapshot, the halts and the stuck runs into metric families."""

    def __init__(self, source: MetricsSource, store: RunStore, clock: Clock,
                 stuck_after: timedelta = STUCK_AFTER) -> None:  # fmt: skip
        self.source, self.store, self.clock, self.stuck_after = source, store, clock, stuck_after

    def collect(self) -> Iterator[Metric]:
        s, now = self.source.snapshot(), self.clock.now()
        yield _labelled(GaugeMetricFamily, "tradefsm_runs", "Runs by state and status.",
                        ("state", "status"), s.runs)  # fmt: skip
        yield _labelled(CounterMetricFamily, "tradefsm_transitions",
                        "Accepted transitions by event.", ("event",),
                        {(k,): v for k, v in s.transitions.items()})  # fmt: skip
        yield _labelled(CounterMetricFamily, "tradefsm_guard_refusals",
                        "Refused transitions by event and refusing guard.", ("event", "guard"),
                        s.refusals)  # fmt: skip
        yield _histograms(
            "tradefsm_time_in_state_seconds",
            "Seconds a run spent in a state before leaving it.",
            s.time_in_state,
        )
        yield from self._stuck(now)
        yield from _orders(s.orders)
        yield from self._halts()
        age = GaugeMetricFamily(
            "tradefsm_digest_age_seconds",
            "Seconds since the newest signed digest (absent: none yet).",
        )
        if s.newest_digest_at is not None:
            age.add_metric([], (now - s.newest_digest_at).total_seconds())
        yield age
        yield from _retries()
        yield _histograms("workflow_duration_ms",
                          "Legacy: milliseconds from a run's start to its end (finished runs).",
                          {"": s.run_duration_ms})  # fmt: skip

    def _stuck(self, now: datetime) -> Iterator[Metric]:
        found = stuck_runs(self.store, now, self.stuck_after)
        gauge = GaugeMetricFamily(
            "tradefsm_runs_stuck",
            f"Active runs no live process drives, or without a transition for "
            f"{self.stuck_after.total_seconds():g} s (tradefsm runs stuck).",
            labels=["state"],
        )
        for state in sorted({r.run.state for r in found}):
            gauge.add_metric([state], sum(r.run.state == state for r in found))
        yield gauge

    def _halts(self) -> Iterator[Metric]:
        halts = in_force(self.store.halts())
        yield _one(GaugeMetricFamily, "tradefsm_halts_in_force",
                   "Halts in force (0: trading may proceed).", len(halts))  # fmt: skip
        halted = GaugeMetricFamily("tradefsm_halted", "1 per halted scope in force.",
                                   labels=["scope"])  # fmt: skip
        for h in halts:
            halted.add_metric([h.account_id or "*"], 1)
        yield halted


RETRY_HELP = {
    BROKER: "Broker calls tried again by this process, by kind (rate_limited, unavailable).",
    DATABASE: "Database writes tried again by this process through an outage, by write.",
    STEP: "Other step errors tried again by this process, by error type.",
}


def _retries() -> Iterator[Metric]:
    for source, doc in RETRY_HELP.items():
        counts = {(kind,): n for kind, n in RETRIES.of(source).items()}
        yield _labelled(CounterMetricFamily, f"tradefsm_{source}_retries", doc, ("kind",), counts)


PLACED_EXCLUDES = ("pending",)  # committed but never sent to the broker


def _orders(by_status: Mapping[str, int]) -> Iterator[Metric]:
    placed = sum(n for status, n in by_status.items() if status not in PLACED_EXCLUDES)
    filled, rejected = by_status.get("filled", 0), by_status.get("rejected", 0)
    yield _one(CounterMetricFamily, "tradefsm_orders_placed", "Orders sent to a broker.", placed)
    yield _one(CounterMetricFamily, "tradefsm_orders_filled", "Orders filled.", filled)
    yield _one(CounterMetricFamily, "tradefsm_orders_rejected", "Orders rejected.", rejected)
    yield _one(CounterMetricFamily, "orders_placed", "Legacy: orders sent to a broker.", placed)
    yield _one(CounterMetricFamily, "orders_succeeded", "Legacy: orders filled.", filled)


def _one(kind: type[GaugeMetricFamily | CounterMetricFamily], name: str, doc: str,
         value: float) -> Metric:  # fmt: skip
    family = kind(name, doc)
    family.add_metric([], value)
    return family


def _labelled(kind: type[GaugeMetricFamily | CounterMetricFamily], name: str, doc: str,
              labels: Sequence[str], values: Mapping[Any, int]) -> Metric:  # fmt: skip
    family = kind(name, doc, labels=list(labels))
    for key in sorted(values):
        family.add_metric(list(key), values[key])
    return family


def _histograms(name: str, doc: str, by_state: Mapping[str, Histogram]) -> Metric:
    labels = ["state"] if any(by_state) else []
    family = HistogramMetricFamily(name, doc, labels=labels)
    for state in sorted(by_state):
        h = by_state[state]
        family.add_metric([state] if labels else [], h.buckets(), h.total)
    return family


def metrics_registry(collector: RunsCollector) -> CollectorRegistry:
    """A registry of tradefsm's own holding ``collector`` (the global one is left alone)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


@contextlib.contextmanager
def serving_metrics(registry: CollectorRegistry, host: str, port: int) -> Iterator[int]:
    """Serve ``registry`` over HTTP on ``host:port`` (0: any free port) while the block runs;
    yields the port. A port in use is InvalidConfiguration, one line."""
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise InvalidConfiguration(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def warm_up(source: MetricsSource) -> None:
    """Read the totals once, in the background, so that the first scrape of a process on a
    long history does not outlast the scraper's timeout; a failure is logged (the scrape
    will say it again)."""

    def read() -> None:
        try:
            source.snapshot()
        except TradeFsmError as exc:
            logging.getLogger("tradefsm.metrics").warning(
                "metrics_warm_up_failed", extra={"error": exc.message}
            )

    threading.Thread(target=read, name="metrics-warm-up", daemon=True).start()
