"""The facade on plugins: the example strategy plugin gives a facade call's signals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fsm.compat import TradingOrchestrator
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.compat.test_facade import Services

WEIGHTS = {"BND": Decimal("0.4"), "SPY": Decimal("0.6")}  # the example's defaults


def _store(tmp_path: Path) -> SqlRunStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate.upgrade(engine)
    return SqlRunStore(engine)


def test_the_example_strategy_plugin_runs_through_the_facade(tmp_path: Path) -> None:
    services = Services()
    orch = TradingOrchestrator(
        signal_orchestrator=None, portfolio_orchestrator=services.portfolio,
        execution_orchestrator=services.execution, store=_store(tmp_path),
        strategy="sixty-forty",
    )  # fmt: skip
    result = orch.execute_strategy_signals_with_trading()
    assert result is not None
    assert result["success"] is True
    signals = [{"symbol": s, "action": "BUY", "weight": w} for s, w in WEIGHTS.items()]
    assert result["strategy_signals"] == signals
    services.portfolio.create_rebalance_plan.assert_called_once()
    assert services.portfolio.create_rebalance_plan.call_args.args[0] == signals
    run = orch.last_run
    assert run is not None
    assert run.state == "done"
    committed = run.params["strategy"]
    assert (committed["name"], committed["distribution"]) == ("sixty-forty", "tradefsm-sixty-forty")
    assert orch.store.get_run(run.run_id).params["strategy"] == committed  # stored with the run


def test_an_unknown_strategy_plugin_is_the_legacy_none_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services = Services()
    orch = TradingOrchestrator(
        signal_orchestrator=None, portfolio_orchestrator=services.portfolio,
        execution_orchestrator=services.execution, store=_store(tmp_path), strategy="nope",
    )  # fmt: skip
    with caplog.at_level("ERROR", logger="tradefsm.compat"):
        assert orch.execute_strategy_signals() is None
    assert services.portfolio.get_comprehensive_account_data.call_count == 0
    [record] = caplog.records
    assert record.getMessage() == "signal analysis failed"
    assert "no strategy plugin named 'nope' is installed" in str(record.exc_info[1])
