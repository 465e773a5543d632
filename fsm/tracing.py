"""OpenTelemetry spans of a run: one per run, step, step attempt, transition and broker call.

The spans go to the tracer provider the application configured (or the one handed to the
engine); tradefsm never sets a global provider, so without one every span is a no-op.

A run stores the W3C ``traceparent`` of the span that created it (``run``/``submit``, itself a
child of the caller's context: ``--traceparent`` or the caller's current span), so whichever
process drives or resumes it later opens its spans in the same trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Tracer,
    TracerProvider,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fsm.errors import InvalidInput
from fsm.pluginrecords import AccountSnapshot, OrderAck, OrderIntent, OrderStatus
from fsm.ports import Broker
from fsm.records import LedgerEntry, RunRecord

TRACER_NAME = "tradefsm"
TRACEPARENT_PARAM = "traceparent"  # where a run keeps its trace context (not its identity)
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_PROPAGATOR = TraceContextTextMapPropagator()
_UNSET = (ProxyTracerProvider, NoOpTracerProvider)  # no application provider (yet)
_NOTHING: AbstractContextManager[object] = nullcontext()  # reusable
T = TypeVar("T")


def checked_traceparent(text: str | None) -> str | None:
    """``text`` if it is a W3C traceparent (version 00), else InvalidInput naming the form."""
    if text is None or _TRACEPARENT.fullmatch(text):
        return text
    raise InvalidInput(
        f"traceparent {text[:80]!a} is not a W3C trace context: "
        "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"
    )


def _context_of(traceparent: str | None) -> Context | None:
    """The remote parent a traceparent names (None: the caller's current context)."""
    return None if traceparent is None else _PROPAGATOR.extract({"traceparent": traceparent})


def traceparent_of(span: Span, given: str | None) -> str | None:
    """The W3C form of ``span``'s context; ``given`` when the span records nothing."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent", given)


def kept_trace(given: str | None) -> dict[str, str]:
    """The trace context a new run keeps in its params: the current span's (the command
    creating it, or the caller's), else the one given; none when neither exists."""
    stored = traceparent_of(trace.get_current_span(), given)
    return {} if stored is None else {TRACEPARENT_PARAM: stored}


def _run_attributes(run: RunRecord) -> dict[str, str]:
    return {"tradefsm.run_id": run.run_id, "tradefsm.account_id": run.account_id,
            "tradefsm.mode": str(run.mode), "tradefsm.state": run.state}  # fmt: skip


@dataclass(frozen=True)
class Tracing:
    """The spans a runtime opens. Each span is current while its work runs, so a caller's
    instrumentation (database, HTTP) nests below it; a step's helper thread is given the
    caller's context (``fsm.attempts.in_thread``). While no provider is set, the spans
    of a transition are skipped outright: the hot path pays one check, not a no-op span."""

    tracer: Tracer
    own_provider: bool = False  # handed one: always on; else on once the application sets one

    @classmethod
    def of(cls, provider: TracerProvider | None = None) -> Tracing:
        """Spans from ``provider``, else from the application's global provider."""
        return cls(trace.get_tracer(TRACER_NAME, tracer_provider=provider), provider is not None)

    @property
    def on(self) -> bool:
        return self.own_provider or not isinstance(trace.get_tracer_provider(), _UNSET)

    @contextmanager
    def starting(self, name: str, traceparent: str | None) -> Iterator[Span]:
        """The span of a command that creates a run (``run``, ``submit``), a child of
        ``traceparent`` or of the caller's current span."""
        if not self.on:
            yield trace.INVALID_SPAN
            return
        with self.tracer.start_as_current_span(
            name, context=_context_of(traceparent), kind=SpanKind.INTERNAL
        ) as span:
            yield span

    @contextmanager
    def driving(self, run: RunRecord) -> Iterator[Span]:
        """A process driving ``run``: a child of the trace context the run stored."""
        if not self.on:
            yield trace.INVALID_SPAN
            return
        stored = run.params.get(TRACEPARENT_PARAM)
        parent = _context_of(stored if isinstance(stored, str) else None)
        with self.tracer.start_as_current_span(
            "tradefsm.drive", context=parent, attributes=_run_attributes(run)
        ) as span:
            yield span

    def step(self, run: RunRecord) -> AbstractContextManager[object]:
        """One step of a run: its attempts, its guards and the transitions it committed."""
        if not self.on:
            return _NOTHING
        return self.tracer.start_as_current_span(
            f"tradefsm.step {run.state}", attributes=_run_attributes(run)
        )

    def attempt(self, state: str, number: int, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` run inside a span of its attempt (opened in the thread that runs it)."""
        if not self.on:
            return call

        def attempted() -> T:
            attributes: dict[str, Any] = {"tradefsm.state": state, "tradefsm.attempt": number}
            with self.tracer.start_as_current_span(
                f"tradefsm.attempt {state}", attributes=attributes
            ):
                return call()

        return attempted

    def transition(self, run: RunRecord, entry: LedgerEntry) -> None:
        """A committed ledger row, as a span of its own under the step (or command) that
        committed it: the event, where it went, and what the guards decided."""
        if not self.on:
            return
        refused = [d.name for d in entry.guards if not d.passed]
        attributes: dict[str, Any] = {
            "tradefsm.run_id": run.run_id, "tradefsm.seq": entry.seq,
            "tradefsm.event": entry.event, "tradefsm.state": entry.source or "",
            "tradefsm.target": entry.target or "", "tradefsm.accepted": entry.accepted,
            "tradefsm.guard_outcome": "refused" if refused else "passed",
            "tradefsm.guards_refused": refused,
        }  # fmt: skip
        self.tracer.start_span(f"tradefsm.transition {entry.event}", attributes=attributes).end()

    def broker(self, broker: Broker) -> Broker:
        """``broker`` with a span around each call (as it is while no provider is set)."""
        return TracedBroker(broker, self.tracer) if self.on else broker


class TracedBroker:
    """A Broker whose every call is a client span (``tradefsm.broker <call>``); an error is
    recorded on the span and raised as it was."""

    def __init__(self, broker: Broker, tracer: Tracer) -> None:
        self.inner, self.tracer = broker, tracer

    def _call(self, name: str, call: Callable[[], T], **attributes: Any) -> T:
        with self.tracer.start_as_current_span(
            f"tradefsm.broker {name}", kind=SpanKind.CLIENT, attributes=attributes
        ):
            return call()

    def account(self) -> AccountSnapshot:
        return self._call("account", self.inner.account)

    def submit(self, intent: OrderIntent) -> OrderAck:
        return self._call("submit", lambda: self.inner.submit(intent),
                          **{"tradefsm.client_order_id": intent.client_order_id})  # fmt: skip

    def orders(self, client_order_ids: Sequence[str]) -> list[OrderStatus]:
        return self._call("orders", lambda: self.inner.orders(client_order_ids),
                          **{"tradefsm.orders": len(client_order_ids)})  # fmt: skip

    def cancel(self, client_order_id: str) -> OrderStatus:
        return self._call("cancel", lambda: self.inner.cancel(client_order_id),
                          **{"tradefsm.client_order_id": client_order_id})  # fmt: skip
