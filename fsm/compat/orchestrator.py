"""``TradingOrchestrator``: the legacy interface, every call a persisted, audited FSM run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from fsm.clock import Clock, SystemClock
from fsm.compat.payloads import field
from fsm.compat.steps import LEGACY_GUARDS, LegacyCall
from fsm.engine import Engine, Ports, RunRequest
from fsm.errors import TradeFsmError
from fsm.ids import IdFactory, UuidFactory
from fsm.ports import RunFilter, RunStore
from fsm.records import LedgerEntry, Mode, RunRecord
from fsm.settings import Settings

# The facade is a composition root for legacy callers, as fsm.cli is for the command line:
# by default it wires the SQL store on an in-memory SQLite database.
from persistence.memory import in_memory_store

ACCOUNT = "legacy"
IN_PROGRESS = {
    "generating_signals": "signal_generation_in_progress",
    "analyzing": "rebalancing_in_progress",
    "planning": "rebalancing_in_progress",
    "executing": "trading_in_progress",
}
STEP_DONE = {
    "signals_generated": "signal_generation", "signals_reported": "signal_generation",
    "rebalance_needed": "analysis", "rebalance_not_needed": "analysis",
    "plan_approved": "planning", "plan_empty": "planning", "execution_completed": "execution",
}  # fmt: skip


class _NoPort:
    """The facade reaches the legacy services through its own steps, never these ports."""

    def __getattr__(self, name: str) -> Any:
        raise TradeFsmError(f"the legacy facade has no {name}() port; its steps call services")


class TradingOrchestrator:
    """Drop-in for the legacy orchestrator: same constructor, methods, returns and flags.

    Each call runs as a real FSM run in ``store`` (an in-memory SQLite database unless one is
    given); an exception in a service is recorded in the ledger before ``None`` is returned.
    """

    def __init__(
        self,
        *,
        signal_orchestrator: Any,
        portfolio_orchestrator: Any,
        execution_orchestrator: Any,
        notification_service: Any = None,
        live_trading: bool = False,
        store: RunStore | None = None,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        self.signal_orchestrator = signal_orchestrator
        self.portfolio_orchestrator = portfolio_orchestrator
        self.execution_orchestrator = execution_orchestrator
        self.notification_service = notification_service  # kept; the legacy never called it
        self.live_trading = live_trading
        self.store = store if store is not None else in_memory_store()
        self.clock = clock or SystemClock()
        self.ids = ids or UuidFactory()
        self.settings = Settings(live_trading_enabled=live_trading, retry_attempts=1)
        self.workflow_state: dict[str, Any] = {
            "signal_generation_in_progress": False,
            "rebalancing_in_progress": False,
            "trading_in_progress": False,
            "last_successful_step": None,
            "last_correlation_id": None,
        }
        self.last_run: RunRecord | None = None

    def execute_strategy_signals(self) -> dict[str, Any] | None:
        call, run = self._run(Mode.SIGNALS_ONLY)
        if run.state != "done":
            return None
        signals = call.returned["signals"]
        return {
            "success": True,
            "correlation_id": run.correlation_id,
            "strategy_signals": field(signals, "strategy_signals", []),
            "consolidated_portfolio_dto": field(
                signals, "consolidated_portfolio_dto", field(signals, "consolidated_portfolio")
            ),
        }

    def execute_strategy_signals_with_trading(self) -> dict[str, Any] | None:
        call, run = self._run(Mode.LIVE if self.live_trading else Mode.PAPER)
        execution_refused = (
            run.failure is not None
            and run.failure["error_type"] == "GuardRejected"
            and run.failure["stage"] == "executing"
        )
        if run.state != "done" and not execution_refused:
            return None
        returned = call.returned
        return {
            "success": run.state == "done",
            "strategy_signals": field(returned["signals"], "strategy_signals", []),
            "account_data": returned.get("account"),
            "rebalance_plan": returned.get("plan"),
            "execution_result": returned.get("execution"),
        }

    def _run(self, mode: Mode) -> tuple[LegacyCall, RunRecord]:
        call = LegacyCall(
            self.signal_orchestrator, self.portfolio_orchestrator, self.execution_orchestrator
        )
        self.workflow_state["last_successful_step"] = None
        request = RunRequest(account_id=ACCOUNT, mode=mode, as_of=self._today())
        return call, self._drive(call, lambda engine: engine.run(request))

    def resume(self, run_id: str) -> RunRecord:
        """Continue a facade run that was interrupted, with this facade's services."""
        call = LegacyCall(
            self.signal_orchestrator, self.portfolio_orchestrator, self.execution_orchestrator
        )
        return self._drive(call, lambda engine: engine.resume(run_id))

    def _drive(self, call: LegacyCall, drive: Callable[[Engine], RunRecord]) -> RunRecord:
        engine = Engine(
            self.store, Ports(_NoPort(), _NoPort(), _NoPort()), self.settings, self.clock,
            self.ids, observer=self._observe, specs=call.specs(), guards=LEGACY_GUARDS,
        )  # fmt: skip
        try:
            run = drive(engine)
        finally:
            for flag in set(IN_PROGRESS.values()):
                self.workflow_state[flag] = False
        self.workflow_state["last_correlation_id"] = run.correlation_id
        self.last_run = run
        return run

    def _today(self) -> date:
        return self.clock.now().date()

    def _observe(self, run: RunRecord, entry: LedgerEntry) -> None:
        for flag in set(IN_PROGRESS.values()):
            self.workflow_state[flag] = IN_PROGRESS.get(run.state) == flag
        if entry.accepted and entry.event in STEP_DONE:
            self.workflow_state["last_successful_step"] = STEP_DONE[entry.event]

    def runs(self) -> Sequence[RunRecord]:
        """The runs this facade recorded, newest first (for migration and audits)."""
        return self.store.list_runs(RunFilter(account_id=ACCOUNT))
