"""``TradingOrchestrator``: the legacy interface, every call a persisted, audited FSM run."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fsm.actors import process_actor
from fsm.clock import Clock, SystemClock
from fsm.compat.payloads import field
from fsm.compat.steps import LEGACY_GUARDS, LegacyCall
from fsm.driver import RunDriver
from fsm.engine import Engine, Ports, RunRequest
from fsm.errors import LegacyServiceFailed, TradeFsmError
from fsm.ids import IdFactory, UuidFactory
from fsm.kinds import Mode
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord
from fsm.settings import load_settings

# The facade is a composition root for legacy callers, as fsm.cli is for the command line:
# by default its runs go to the configured run database (TRADEFSM_DB).
from persistence.defaults import configured_store

ACCOUNT = "legacy"
SIGNALS = "TradingOrchestrator.execute_strategy_signals"
TRADING = "TradingOrchestrator.execute_strategy_signals_with_trading"
FLAGS = ("signal_generation_in_progress", "rebalancing_in_progress", "trading_in_progress")


class _NoPort:
    """The facade reaches the legacy services through its own steps, never these ports."""

    def __getattr__(self, name: str) -> Any:
        raise TradeFsmError(f"the legacy facade has no {name}() port; its steps call services")


@dataclass
class Deps:
    """The services the legacy constructor was given (the legacy ``deps`` attribute)."""

    signal_orchestrator: Any
    portfolio_orchestrator: Any
    execution_orchestrator: Any
    notification_service: Any


@dataclass
class _Call:
    """One facade call in progress: its services and the driver of its run."""

    legacy: LegacyCall
    driver: RunDriver


class TradingOrchestrator:
    """Drop-in for the legacy orchestrator: same constructor, methods, returns and flags.

    Each call runs as a real FSM run in ``store`` — by default the configured run database
    (``TRADEFSM_DB``, else ``./tradefsm.db``), where `tradefsm runs`, `audit` and `resume` see
    it. A failure is recorded in the ledger, logged on ``logger`` as the legacy class logged
    it, and answered with ``None``. The facade installs no signal handler or timer and prints
    nothing.
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
        self.deps = Deps(
            signal_orchestrator, portfolio_orchestrator, execution_orchestrator,
            notification_service,
        )  # fmt: skip
        self.live_trading = live_trading
        self.logger: Any = logging.getLogger("tradefsm.compat")
        settings = load_settings()
        self.store = store if store is not None else configured_store(settings.db)
        self.clock = clock or SystemClock()
        self.ids = ids or UuidFactory()
        self.settings = settings.model_copy(  # the facade acts as a named process
            update={"live_trading_enabled": live_trading, "retry_attempts": 1,
                    "actor": process_actor("facade")}
        )  # fmt: skip
        self.workflow_state: dict[str, Any] = dict.fromkeys(FLAGS, False) | {
            "last_successful_step": None,
            "last_correlation_id": None,
        }
        self.last_run: RunRecord | None = None
        self._call: _Call | None = None  # the run a trading call started through its signals
        self._trading = False
        self._legacy = LegacyCall(signal_orchestrator, portfolio_orchestrator,
                                  execution_orchestrator, self.workflow_state)  # fmt: skip
        self._engine: Engine | None = None  # built at the first call, reused by the next

    # The legacy service attributes, kept for callers that read them.
    @property
    def signal_orchestrator(self) -> Any:
        return self.deps.signal_orchestrator

    @property
    def portfolio_orchestrator(self) -> Any:
        return self.deps.portfolio_orchestrator

    @property
    def execution_orchestrator(self) -> Any:
        return self.deps.execution_orchestrator

    @property
    def notification_service(self) -> Any:
        return self.deps.notification_service

    def execute_strategy_signals(self, correlation_id: str | None = None) -> dict[str, Any] | None:
        """Signals only (or the first step of a trading call): the legacy dict, or None."""
        correlation_id = correlation_id or str(uuid.uuid4())
        self.workflow_state["last_correlation_id"] = correlation_id
        self.workflow_state["signal_generation_in_progress"] = True
        try:
            call = self._start(correlation_id)
            self._drive_until(call, "analyzing")
            if call.driver.run.state == "failed":
                return self._failed(call, "signal analysis", SIGNALS, correlation_id)
            self.workflow_state["last_successful_step"] = "signal_generation"
            signals = call.legacy.returned["signals"]
            self._call = call if self._trading else None
            return {
                "success": True,
                "correlation_id": correlation_id,
                "strategy_signals": field(signals, "strategy_signals", []),
                "consolidated_portfolio_dto": field(signals, "consolidated_portfolio_dto"),
            }
        except Exception as exc:  # the legacy contract: log, answer None, never raise
            self._crashed(exc, "signal analysis", SIGNALS, correlation_id)
            return None
        finally:
            self.workflow_state["signal_generation_in_progress"] = False

    def execute_strategy_signals_with_trading(self) -> dict[str, Any] | None:
        """Signals through ``execute_strategy_signals``, then analysis, plan and execution."""
        self._trading, self._call = True, None
        try:
            base = self.execute_strategy_signals()
        finally:
            self._trading = False
        if not base:
            return None
        correlation_id = base.get("correlation_id") or str(uuid.uuid4())
        try:
            return self._trade(base, correlation_id)
        except Exception as exc:  # the legacy contract: log, answer None, never raise
            self._crashed(exc, "trading workflow", TRADING, correlation_id)
            return None
        finally:
            self._call = None
            self.workflow_state["rebalancing_in_progress"] = False
            self.workflow_state["trading_in_progress"] = False

    def resume(self, run_id: str) -> RunRecord:
        """Continue a facade run that was interrupted, with this facade's services."""
        self._legacy.forget()
        run = self._engine_for_calls().resume(run_id)
        self.last_run = run
        return run

    def runs(self) -> Sequence[RunRecord]:
        """The runs this facade's account recorded, newest first (for migration and audits)."""
        return self.store.list_runs(RunFilter(account_id=ACCOUNT))

    # ---- the run underneath ----------------------------------------------------------------

    def _trade(self, base: dict[str, Any], correlation_id: str) -> dict[str, Any] | None:
        call = self._call
        if call is None or call.driver.run.correlation_id != correlation_id:
            call = self._start(correlation_id, signals=base)  # execute_strategy_signals replaced
            self._drive_until(call, "analyzing")
        self._drive_until(call, "done")
        run = call.driver.run
        returned = call.legacy.returned
        execution_refused = run.failure is not None and run.failure["stage"] == "executing" and (
            run.failure["error_type"] == "GuardRejected")  # fmt: skip
        if run.state == "failed" and not execution_refused:
            return self._failed(call, "trading workflow", TRADING, correlation_id)
        if "plan" not in returned:
            self.workflow_state["last_successful_step"] = "analysis"
        elif "execution" not in returned:
            self.workflow_state["last_successful_step"] = "planning"
        return {
            "success": run.state == "done",
            "strategy_signals": base.get("strategy_signals", []),
            "account_data": returned.get("account"),
            "rebalance_plan": returned.get("plan"),
            "execution_result": returned.get("execution"),
        }

    def _engine_for_calls(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(
                self.store, Ports(_NoPort(), _NoPort(), _NoPort()), self.settings, self.clock,
                self.ids, specs=self._legacy.specs(), guards=LEGACY_GUARDS,
            )  # fmt: skip
        return self._engine

    def _start(self, correlation_id: str, signals: Any = None) -> _Call:
        legacy = self._legacy
        legacy.forget()
        if signals is not None:
            legacy.returned["signals"] = signals
        engine = self._engine_for_calls()
        mode = (Mode.LIVE if self.live_trading else Mode.PAPER) if self._trading or signals else (
            Mode.SIGNALS_ONLY)  # fmt: skip
        request = RunRequest(account_id=ACCOUNT, mode=mode, as_of=self._today(),
                             correlation_id=correlation_id)  # fmt: skip
        call = _Call(legacy, RunDriver(engine.runtime, engine.create(request)))
        self.last_run = call.driver.run
        return call

    def _drive_until(self, call: _Call, state: str) -> None:
        """Step the run until it reaches ``state`` or ends."""
        driver, final = call.driver, ("done", "failed")
        while driver.run.state != state and driver.run.state not in final:
            driver.step()
        self.last_run = driver.run

    def _today(self) -> date:
        return self.clock.now().date()

    # ---- the legacy answers to a failure ---------------------------------------------------

    def _failed(
        self, call: _Call, what: str, component: str, correlation_id: str
    ) -> dict[str, Any] | None:
        """A run that failed: logged as the legacy class did (warning unless a service raised)."""
        error = call.legacy.error
        if error is None:
            failure = call.driver.run.failure or {}
            unsuccessful = failure.get("error_type") == LegacyServiceFailed.__name__
            if unsuccessful:
                self.logger.warning(
                    f"{what}: {failure.get('message')}",
                    extra={"correlation_id": correlation_id, "component": component},
                )
                return None
        self._crashed(error, what, component, correlation_id)
        return None

    def _crashed(
        self, error: BaseException | None, what: str, component: str, correlation_id: str
    ) -> None:
        self.logger.error(
            f"{what} failed",
            exc_info=error,
            extra={
                "correlation_id": correlation_id,
                "component": component,
                "error_type": type(error).__name__ if error else "RunFailed",
            },
        )
