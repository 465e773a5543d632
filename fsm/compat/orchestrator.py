"""``TradingOrchestrator``: the legacy interface, every call a persisted, audited FSM run."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from tenacity import wait_random_exponential

from fsm.actors import process_actor
from fsm.clock import Clock, SystemClock
from fsm.compat.notifications import LegacyNotifications
from fsm.compat.payloads import correlation_id as legacy_correlation_id
from fsm.compat.payloads import field, text_of
from fsm.compat.steps import LegacyCall, legacy_guards
from fsm.compose.engines import facade_engine, facade_signals
from fsm.compose.stores import configured_store
from fsm.engine import Engine
from fsm.errors import (
    LegacyCallInterrupted,
    LegacyServiceFailed,
    TradeFsmError,
)
from fsm.ids import IdFactory, UuidFactory
from fsm.kinds import Mode
from fsm.leases import worth_waiting
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.retries import Retry
from fsm.settings import load_settings

ACCOUNT = "legacy"
SIGNALS = "TradingOrchestrator.execute_strategy_signals"
TRADING = "TradingOrchestrator.execute_strategy_signals_with_trading"
FLAGS = ("signal_generation_in_progress", "rebalancing_in_progress", "trading_in_progress")
FINAL = ("done", "failed")
# The facade's runs share one account, which has one active run at a time: the calls of the
# facades on one store (the default store is shared) take turns in a process.
_TURNS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_SHARED_TURN = threading.RLock()  # for a store that cannot be referenced weakly
_TURNS_LOCK = threading.Lock()


def _turn(store: RunStore) -> threading.RLock:
    """The lock the calls on ``store`` take turns with in this process."""
    with _TURNS_LOCK:
        try:
            return _TURNS.setdefault(store, threading.RLock())
        except TypeError:
            return _SHARED_TURN


def _turn_pauses() -> Any:
    """Pauses while another process has the legacy account's turn: short, then up to 1 s."""
    return wait_random_exponential(multiplier=0.05, max=1.0)


@dataclass
class Deps:
    """The services the legacy constructor was given (the legacy ``deps`` attribute)."""

    signal_orchestrator: Any
    portfolio_orchestrator: Any
    execution_orchestrator: Any
    notification_service: Any


@dataclass
class _Call:
    """One facade call in progress: its services and its run as last committed."""

    legacy: LegacyCall
    run: RunRecord


class TradingOrchestrator:
    """Drop-in for the legacy orchestrator: same constructor, methods, returns and flags.

    Each call runs as a real FSM run in ``store`` — by default the configured run database
    (``TRADEFSM_DB``, else ``./tradefsm.db``), where `tradefsm runs`, `audit` and `resume` see
    it. A failure is recorded in the ledger, logged on ``logger`` as the legacy class logged
    it, and answered with ``None``; a KeyboardInterrupt or other BaseException fails the run,
    then goes on to the caller. The ``notification_service`` is told when a run ends
    (``fsm.compat.notifications``); its failure is logged, never raised. The facade's broker
    is the execution service it is given; live runs start only with
    TRADEFSM_LIVE_TRADING_ENABLED. Calls from several threads take turns. The facade installs
    no signal handler or timer and prints nothing.

    With ``strategy`` (and ``market_data``), plugin names as `tradefsm run --strategy` takes,
    the signals come from that strategy plugin over that market data instead of the signal
    service (which may then be None), and each run commits their name and version.
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
        strategy: str | None = None,
        market_data: str | None = None,
    ) -> None:
        self.deps = Deps(signal_orchestrator, portfolio_orchestrator, execution_orchestrator,
                         notification_service)  # fmt: skip
        self.live_trading = live_trading
        self.logger: Any = logging.getLogger("tradefsm.compat")
        plugins = {"strategy": strategy, "market_data": market_data}
        self._plugged = strategy is not None or market_data is not None
        settings = load_settings(**{k: v for k, v in plugins.items() if v is not None})
        self.store = store if store is not None else configured_store(settings.db)
        self.clock = clock or SystemClock()
        self.ids = ids or UuidFactory()
        # live_trading asks for live runs; TRADEFSM_LIVE_TRADING_ENABLED still allows them.
        self.settings = settings.model_copy(  # the facade acts as a named process
            update={"retry_attempts": 1, "actor": process_actor("facade")}
        )  # fmt: skip
        self.workflow_state: dict[str, Any] = dict.fromkeys(FLAGS, False) | dict.fromkeys(
            ("last_successful_step", "last_correlation_id"))  # fmt: skip
        self.last_run: RunRecord | None = None
        self._call: _Call | None = None  # the run a trading call started through its signals
        self._trading = False
        self._legacy = LegacyCall(signal_orchestrator, portfolio_orchestrator,
                                  execution_orchestrator, self.workflow_state)  # fmt: skip
        self._engine: Engine | None = None  # built at the first call, reused by the next
        self._turn = _turn(self.store)
        self._running: str | None = None  # the run of the call in progress
        self._notifications = LegacyNotifications(notification_service, self.store,
                                                  settings.smtp_quiet_minutes)  # fmt: skip

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

    def execute_strategy_signals(self, correlation_id: Any = None) -> dict[str, Any] | None:
        """Signals only (or the first step of a trading call): the legacy dict, or None.

        ``correlation_id`` may be anything, as before: it becomes the run's correlation id as
        text (see ``fsm.compat.payloads.correlation_id``).
        """
        with self._turn, self._failing_if_interrupted():
            answer = self._signals_call(correlation_id)
            self._notifications.run_ended(self.last_run, self.logger)
            return answer

    def _signals_call(self, given: Any) -> dict[str, Any] | None:
        correlation_id, unusable = legacy_correlation_id(given)
        self.workflow_state["last_correlation_id"] = correlation_id
        self.workflow_state["signal_generation_in_progress"] = True
        try:
            call = self._start(correlation_id, unusable=unusable)
            self._drive_until(call, "analyzing")
            if call.run.state == "failed":
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
        with self._turn, self._failing_if_interrupted():
            answer = self._trading_call()
            self._notifications.run_ended(self.last_run, self.logger)
            return answer

    def _trading_call(self) -> dict[str, Any] | None:
        self._trading, self._call = True, None
        try:
            base = self.execute_strategy_signals()
        finally:
            self._trading = False
        if not base:
            return None
        correlation_id, unusable = legacy_correlation_id(base.get("correlation_id"))
        try:
            return self._trade(base, correlation_id, unusable)
        except Exception as exc:  # the legacy contract: log, answer None, never raise
            self._crashed(exc, "trading workflow", TRADING, correlation_id)
            return None
        finally:
            self._call = None
            self.workflow_state["rebalancing_in_progress"] = False
            self.workflow_state["trading_in_progress"] = False

    def resume(self, run_id: str) -> RunRecord:
        """Continue a facade run that was interrupted, with this facade's services."""
        with self._turn, self._failing_if_interrupted(resuming=run_id):
            self._legacy.forget()
            engine = self._engine_for_calls()
            self._plugins(engine)
            run = engine.resume(run_id)
            self.last_run = run
            self._notifications.run_ended(run, self.logger)
            return run

    def runs(self) -> Sequence[RunRecord]:
        """The runs this facade's account recorded, newest first (for migration and audits)."""
        return self.store.list_runs(RunFilter(account_id=ACCOUNT))

    # ---- the run underneath ----------------------------------------------------------------

    def _trade(
        self, base: dict[str, Any], correlation_id: str, unusable: dict[str, str] | None
    ) -> dict[str, Any] | None:
        call = self._call
        if call is None or call.run.correlation_id != correlation_id:
            # execute_strategy_signals was replaced: its answer stands for the signals step
            call = self._start(correlation_id, signals=base, unusable=unusable)
            self._drive_until(call, "analyzing")
        self._drive_until(call, "done")
        run = call.run
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
            self._engine = facade_engine(
                self.store, self.settings, self.clock, self.ids, self._legacy.specs(),
                legacy_guards(self.execution_orchestrator),
            )  # fmt: skip
        return self._engine

    def _start(
        self, correlation_id: str, signals: Any = None, unusable: dict[str, str] | None = None
    ) -> _Call:
        legacy = self._legacy
        legacy.forget()
        if signals is not None:
            legacy.returned["signals"] = signals
        engine = self._engine_for_calls()
        mode = (Mode.LIVE if self.live_trading else Mode.PAPER) if self._trading or signals else (
            Mode.SIGNALS_ONLY)  # fmt: skip
        # A correlation id the run could not carry is recorded with it.
        params = {} if unusable is None else {"legacy_correlation_id": unusable}
        request = RunRequest(account_id=ACCOUNT, mode=mode, as_of=self._today(),
                             correlation_id=correlation_id, params=params)  # fmt: skip
        call = _Call(legacy, self._create(engine, request, self._plugins(engine)))
        self._running, self.last_run = call.run.run_id, call.run
        return call

    def _plugins(self, engine: Engine) -> Mapping[str, Any] | None:
        """The strategy plugin of the calls, built for today, and what their runs commit of
        it; None when the signal service gives the signals."""
        if not self._plugged:
            return None
        self._legacy.strategy, identity = facade_signals(engine, self._today())
        return identity

    def _create(
        self, engine: Engine, request: RunRequest, plugins: Mapping[str, Any] | None
    ) -> RunRecord:
        """The call's run. While a live process (another facade) drives the account's active
        run, the call waits for it to end, as the calls of one process take turns."""

        def worth_it(exc: BaseException) -> bool:
            return worth_waiting(self.store, exc, self.clock.now(), FINAL)

        turns = Retry(retry=worth_it, backoff=_turn_pauses, sleep=time.sleep)
        return turns("a turn on the legacy account",
                     lambda: engine.create(request, plugins=plugins))  # fmt: skip

    def _drive_until(self, call: _Call, state: str) -> None:
        """Step the run until it reaches ``state`` or ends."""
        try:
            call.run = self._engine_for_calls().advance(call.run, state)
        finally:
            self.last_run = call.run

    @contextmanager
    def _failing_if_interrupted(self, resuming: str | None = None) -> Iterator[None]:
        """A BaseException that is not an error (KeyboardInterrupt, SystemExit) fails the
        call's run (or the run it was ``resuming``) first, so that it is not left active,
        then goes on: Python's contract."""
        self._running = None
        try:
            yield
        except BaseException as exc:
            run_id = self._running or resuming
            if not isinstance(exc, Exception) and run_id and self._engine is not None:
                self._interrupted(self._engine, run_id, exc)
            raise

    def _interrupted(self, engine: Engine, run_id: str, exc: BaseException) -> None:
        """Record ``exc`` as the failure of the run, if this facade holds it; the caller
        re-raises ``exc`` in any case."""

        def error(run: RunRecord) -> TradeFsmError:
            text = text_of(exc)
            message = (f"the call was interrupted in {run.state} by {type(exc).__name__}"
                       f"{': ' + text if text else ''}; it went on to the caller")  # fmt: skip
            return LegacyCallInterrupted(message, run_id=run.run_id, state=run.state)

        try:
            run = engine.interrupt(run_id, error)
        except Exception as failed:  # the database refused: the run stays active, resumable
            self.logger.error(
                f"could not record that {type(exc).__name__} interrupted run {run_id}: "
                "TradingOrchestrator.resume continues it",
                exc_info=failed, extra={"run_id": run_id},
            )  # fmt: skip
            return
        if run is not None:
            self.last_run = run

    def _today(self) -> date:
        return self.clock.now().date()

    # ---- the legacy answers to a failure ---------------------------------------------------

    def _failed(
        self, call: _Call, what: str, component: str, correlation_id: str
    ) -> dict[str, Any] | None:
        """A run that failed: logged as the legacy class did (warning unless a service raised);
        a run refused by a guard (a live run not enabled) is an error naming the reason."""
        error = call.legacy.error
        failure = call.run.failure or {}
        if error is None and failure.get("error_type") == LegacyServiceFailed.__name__:
            self.logger.warning(
                f"{what}: {failure.get('message')}",
                extra={"correlation_id": correlation_id, "component": component},
            )
            return None
        self._crashed(error, what, component, correlation_id, None if error else failure)
        return None

    def _crashed(
        self,
        error: BaseException | None,
        what: str,
        component: str,
        correlation_id: str,
        failure: dict[str, Any] | None = None,
    ) -> None:
        failure = failure or {}
        reason = f": {failure['message']}" if "message" in failure else ""
        self.logger.error(
            f"{what} failed{reason}",
            exc_info=error,
            extra={
                "correlation_id": correlation_id,
                "component": component,
                "error_type": type(error).__name__ if error else failure.get(
                    "error_type", "RunFailed"),
            },
        )  # fmt: skip
