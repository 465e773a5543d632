"""A facade call while trading is halted: the legacy answer (None), a ledgered refusal, and
the legacy services never called."""

from __future__ import annotations

from fsm import halts
from fsm.clock import SystemClock
from tests.compat.test_facade import Services


def test_a_facade_call_while_halted_answers_none_and_records_the_refusal() -> None:
    services = Services()
    orch = services.orchestrator()
    halts.halt(orch.store, None, "ops-ann", "market event", "ops", SystemClock().now())
    assert orch.execute_strategy_signals_with_trading() is None
    [refused] = orch.runs()
    assert refused.state == "failed"
    assert refused.failure is not None
    assert refused.failure["error_type"] == "TradingHalted"
    assert "every account halted by ops-ann" in refused.failure["message"]
    services.signals.analyze_signals.assert_not_called()
    services.execution.execute_rebalance_plan.assert_not_called()
