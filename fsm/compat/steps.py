"""The legacy services as the steps of a run, and guards that record what they returned.

The legacy orchestrator's rules are kept (a falsy analysis means "no rebalance needed", an
execution result without ``success`` counts as success) so old callers see the same answers,
but every such decision is written to the ledger with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from fsm.compat.payloads import field, summarize
from fsm.definition import trading_definition
from fsm.errors import LegacyServiceFailed
from fsm.failedorders import orders_at_failure
from fsm.guardcontext import Guard, GuardContext, decision
from fsm.guards import GUARDS
from fsm.kinds import Mode
from fsm.machines.names import TradingEvent as E
from fsm.machines.names import TradingState as S
from fsm.machines.specs import APPROVAL
from fsm.pluginrecords import Frozen, SignalSet
from fsm.ports import SignalSource
from fsm.records import GuardDecision
from fsm.spec import SpecSet, StateSpec
from fsm.steps.runner import StepEnv, StepResult


class LegacyOutput(Frozen):
    """What a legacy service returned, as a redacted JSON-safe summary."""

    schema_version: Literal[1] = 1
    step: str
    summary: Any
    proceed: bool = True  # the legacy rule's verdict: rebalance needed, items to trade, success


@dataclass
class LegacyCall:
    """The services of one facade call and the raw objects they returned, for the caller.

    ``workflow_state`` is the facade's legacy flag dict: the steps set it as the legacy
    orchestrator did around its service calls. ``error`` is what a service raised, if one did.
    """

    signal_service: Any
    portfolio_service: Any
    execution_service: Any
    workflow_state: dict[str, Any] = dc_field(default_factory=dict)
    returned: dict[str, Any] = dc_field(default_factory=dict)
    error: BaseException | None = None
    strategy: SignalSource | None = None  # a strategy plugin, in place of the signal service

    def forget(self) -> None:
        """Start a new call: nothing returned, no error yet."""
        self.returned.clear()
        self.error = None

    def specs(self) -> SpecSet:
        """The facade's spec set: the trading chart, the legacy services as its steps.

        Like the legacy class, the facade puts no timeout on a service call: it runs in the
        caller's thread, and no timer or thread is started on the caller's behalf.
        """
        again = "the legacy services are called again"
        return SpecSet("legacy", trading_definition(), {
            S.IDLE: StateSpec(lambda env: StepResult(E.START), (E.START,), timeout=None),
            S.GENERATING_SIGNALS: StateSpec(
                self._signals, (E.SIGNALS_GENERATED, E.SIGNALS_REPORTED), LegacyOutput,
                note=again, timeout=None),
            S.ANALYZING: StateSpec(
                self._analysis, (E.REBALANCE_NEEDED, E.REBALANCE_NOT_NEEDED), LegacyOutput,
                note=again, timeout=None),
            S.PLANNING: StateSpec(
                self._planning, (E.PLAN_APPROVED, E.PLAN_EMPTY, E.PLAN_REPORTED,
                                 E.APPROVAL_REQUIRED), LegacyOutput, note=again, timeout=None),
            S.AWAITING_APPROVAL: StateSpec(
                None, (E.APPROVED, E.REJECTED), on_resume="wait for a person", timeout=None,
                retry="never", parking=APPROVAL),
            S.EXECUTING: StateSpec(
                self._execution, (E.EXECUTION_COMPLETED,), LegacyOutput, on_resume="refuse",
                retry="never", timeout=None, at_failure=orders_at_failure,
                uses=(S.PLANNING,), sends_plan=S.PLANNING,
                note="the legacy execution service keeps no order ids to reconcile with: a "
                "facade run interrupted while executing fails; check the broker by hand"),
        })  # fmt: skip

    def _signals(self, env: StepEnv) -> StepResult:
        if "signals" in self.returned:  # given by a replaced execute_strategy_signals
            result = self.returned["signals"]
        elif self.strategy is not None:
            result = legacy_signals(self._call(self.strategy.generate, env.ctx))
        else:
            result = self._call(self.signal_service.analyze_signals)
        if not result or not field(result, "success", False):
            raise LegacyServiceFailed(
                "analyze_signals() reported no success", state=S.GENERATING_SIGNALS
            )
        self.returned["signals"] = result
        event = E.SIGNALS_REPORTED if env.ctx.mode is Mode.SIGNALS_ONLY else E.SIGNALS_GENERATED
        return StepResult(event, LegacyOutput(step="signal_generation", summary=summarize(result)))

    def _call(self, service: Any, *args: Any) -> Any:
        try:
            return service(*args)
        except Exception as exc:  # kept for the caller's log, then the run fails with it
            self.error = exc
            raise

    def _analysis(self, env: StepEnv) -> StepResult:
        account = self._call(self.portfolio_service.get_comprehensive_account_data)
        if not account:
            raise LegacyServiceFailed(
                "get_comprehensive_account_data() returned nothing", state=S.ANALYZING
            )
        self.returned["account"] = account
        analysis = self._call(self.portfolio_service.analyze_allocation_comparison, account)
        needed = bool(analysis) and bool(field(analysis, "needs_rebalancing", False))
        summary = {"account": summarize(account), "analysis": summarize(analysis)}
        output = LegacyOutput(step="analysis", summary=summary, proceed=needed)
        return StepResult(E.REBALANCE_NEEDED if needed else E.REBALANCE_NOT_NEEDED, output)

    def _planning(self, env: StepEnv) -> StepResult:
        if "signals" not in self.returned or "account" not in self.returned:  # resumed
            self._signals(env)
            self._analysis(env)
        signals = field(self.returned["signals"], "strategy_signals")
        plan = self._call(
            self.portfolio_service.create_rebalance_plan, signals, self.returned["account"]
        )
        self.returned["plan"] = plan
        has_items = bool(field(plan, "items", None))
        output = LegacyOutput(step="planning", summary=summarize(plan), proceed=has_items)
        return StepResult(E.PLAN_APPROVED if has_items else E.PLAN_EMPTY, output)

    def _execution(self, env: StepEnv) -> StepResult:
        self.workflow_state["rebalancing_in_progress"] = True  # as the legacy class did
        result = self._call(self.execution_service.execute_rebalance_plan, self.returned["plan"])
        self.workflow_state["last_successful_step"] = "execution"  # it returned, even unsuccessful
        self.returned["execution"] = result
        # Legacy: a dict's "success" (default True); any other result counts as success.
        succeeded = bool(result.get("success", True)) if isinstance(result, dict) else True
        output = LegacyOutput(step="execution", summary=summarize(result), proceed=succeeded)
        return StepResult(E.EXECUTION_COMPLETED, output)


def legacy_signals(signals: SignalSet) -> dict[str, Any]:
    """A strategy plugin's targets as the legacy signal service answered: a BUY per symbol
    with its weight, and the weights as the consolidated portfolio."""
    targets = signals.targets
    return {
        "success": True,
        "strategy_signals": [{"symbol": t.symbol, "action": "BUY", "weight": t.weight}
                             for t in targets],
        "consolidated_portfolio_dto": {t.symbol: t.weight for t in targets},
    }  # fmt: skip


def _legacy(name: str, yes: str, no: str, invert: bool = False) -> Guard:
    def check(ctx: GuardContext) -> GuardDecision:
        assert isinstance(ctx.output, LegacyOutput), "legacy guards read a LegacyOutput"
        passed = ctx.output.proceed != invert
        return decision(name, passed, yes if ctx.output.proceed else no, step=ctx.output.step)

    return check


def _accepted(
    name: str, why: str = "legacy service result accepted as returned (not validated)"
) -> Guard:
    def check(ctx: GuardContext) -> GuardDecision:
        return decision(name, True, why)

    return check


def _injected_broker(endpoint: str) -> Guard:
    """The facade's broker is the execution service it was given: paper or live, its orders
    go there (``mode_allowed`` still says whether live runs may start at all)."""

    def broker_endpoint(ctx: GuardContext) -> GuardDecision:
        sends = ctx.mode in (Mode.PAPER, Mode.LIVE)
        reason = (f"{ctx.mode.value} orders go to {endpoint}, the facade's broker" if sends
                  else f"{ctx.mode.value} sends no order")  # fmt: skip
        return decision("broker_endpoint", True, reason, broker="injected", endpoint=endpoint,
                        kind="injected", mode=ctx.mode.value)  # fmt: skip

    return broker_endpoint


LEGACY_GUARDS: dict[str, Guard] = {
    **GUARDS,
    "broker_endpoint": _injected_broker("the injected execution service"),
    **{n: _accepted(n) for n in (
        "has_signals", "weights_in_range", "symbols_well_formed", "max_orders",
        "order_notional_limit", "total_notional_limit", "buying_power", "symbols_allowed",
        "orders_terminal", "prices_sane", "order_qty_limit", "prices_fresh", "daily_limits",
    )},
    "drift_above_threshold": _legacy(
        "drift_above_threshold", "analysis says needs_rebalancing",
        "analysis falsy or needs_rebalancing falsy (legacy: no rebalance)"),
    "drift_within_threshold": _legacy(
        "drift_within_threshold", "analysis says needs_rebalancing",
        "analysis falsy or needs_rebalancing falsy (legacy: no rebalance)", invert=True),
    "trades_required": _legacy("trades_required", "plan has items", "plan has no items"),
    "no_trades_required": _legacy(
        "no_trades_required", "plan has items", "plan has no items", invert=True),
    "approval_not_needed": _accepted(
        "approval_not_needed", "the legacy orchestrator has no approval step"),
    "execution_succeeded": _legacy(
        "execution_succeeded", "execution result success (or no success key: legacy default)",
        "execution result says success is false"),
}  # fmt: skip


def legacy_guards(execution_service: Any) -> dict[str, Guard]:
    """The facade's guards, naming the execution service it was given as its broker."""
    kind = type(execution_service)
    endpoint = f"{kind.__module__}.{kind.__qualname__}.execute_rebalance_plan"
    return {**LEGACY_GUARDS, "broker_endpoint": _injected_broker(endpoint)}
