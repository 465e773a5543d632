"""The facade's runs join the trace of the caller's current span: the run keeps that trace
context, so a resume of it (from any process) continues the same trace."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from fsm.compat import TradingOrchestrator
from fsm.tracing import TRACEPARENT_PARAM
from tests.compat.test_facade import Services


def test_a_facade_run_keeps_its_callers_trace_context() -> None:
    services = Services()
    facade = TradingOrchestrator(
        signal_orchestrator=services.signals, portfolio_orchestrator=services.portfolio,
        execution_orchestrator=services.execution,
    )  # fmt: skip
    caller = TracerProvider().get_tracer("legacy caller")  # the application's, not global
    with caller.start_as_current_span("nightly rebalance") as span:
        assert facade.execute_strategy_signals_with_trading() is not None
    context = span.get_span_context()
    run = facade.last_run
    assert run is not None
    stored = facade.store.get_run(run.run_id).params[TRACEPARENT_PARAM]
    assert stored.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
