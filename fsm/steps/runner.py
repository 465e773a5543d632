"""The steps of the trading states: run one, validate its output, pick the event to send.

Which step runs in which state is declared in ``fsm.machines.specs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel

from fsm.clock import Clock
from fsm.errors import InvalidConfiguration, InvalidStepOutput
from fsm.kinds import Mode
from fsm.limits import Limits, settings_limits
from fsm.lineage import rejecters
from fsm.ports import RunContext, RunStore
from fsm.records import (
    AccountSnapshot,
    AllocationAnalysis,
    Fence,
    PriceSnapshot,
    RebalancePlan,
    SignalSet,
)
from fsm.requests import Ports
from fsm.settings import Settings
from fsm.steps import validate_output
from fsm.steps.analysis import analyse
from fsm.steps.execution import execute_plan
from fsm.steps.planning import plan_rebalance

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class StepResult:
    event: str
    output: BaseModel | None = None


@dataclass
class StepEnv:
    """What one run's step may use: the spec set's ports, the engine's store, clock and
    settings, earlier outputs, and the run's write fence."""

    ctx: RunContext
    given: Ports | None  # the spec set's ports bundle (fsm.runtime), None when it has none
    store: RunStore
    clock: Clock
    settings: Settings
    outputs: dict[str, BaseModel]
    fence: Callable[[], Fence]
    failpoint: Callable[[str], None]  # crash tests stop the process at named points
    may_submit: bool = True  # False when stale or past deadline: reconcile, never send
    stop_point: Callable[[], None] = lambda: None  # raises when the process must stand down
    limits: Limits | None = None  # the run's pinned policy (None: defaults and settings)

    @property
    def ports(self) -> Ports:
        """The ports bundle; InvalidConfiguration when the engine was given none."""
        if self.given is None:
            raise InvalidConfiguration(
                f"run {self.ctx.run_id}: this engine was given no ports (strategy, market data, "
                "broker), which its steps need"
            )
        return self.given


def start(env: StepEnv) -> StepResult:
    return StepResult("start")


def generate_signals(env: StepEnv) -> StepResult:
    ctx = env.ctx
    signals = validate_output(
        SignalSet, env.ports.signals.generate(ctx), state="generating_signals"
    )
    event = "signals_reported" if ctx.mode is Mode.SIGNALS_ONLY else "signals_generated"
    return StepResult(event, signals)


def analyse_allocation(env: StepEnv) -> StepResult:
    ctx, ports = env.ctx, env.ports
    signals = _output(env.outputs, "generating_signals", SignalSet)
    account = validate_output(AccountSnapshot, ports.broker.account(), state="analyzing")
    symbols = sorted({t.symbol for t in signals.targets} | {p.symbol for p in account.positions})
    prices = validate_output(
        PriceSnapshot, ports.market_data.prices(symbols, ctx.as_of), state="analyzing"
    )
    missing = [s for s in symbols if s not in prices.prices]
    bad = [s for s, p in prices.prices.items() if p <= Decimal(0)]
    if missing or bad:
        raise InvalidStepOutput(
            f"price snapshot for {ctx.as_of} lacks {missing[:5]} or has non-positive {bad[:5]}",
            state="analyzing",
        )
    analysis = analyse(signals, account, prices, env.settings.drift_threshold)
    return StepResult(
        "rebalance_needed" if analysis.rebalance_needed else "rebalance_not_needed", analysis
    )


def plan(env: StepEnv) -> StepResult:
    analysis = _output(env.outputs, "analyzing", AllocationAnalysis)
    s = env.settings
    result = plan_rebalance(analysis, s.cash_reserve, s.min_trade_fraction)
    if env.ctx.mode is Mode.DRY_RUN:
        return StepResult("plan_reported", result)
    if not result.trades:
        return StepResult("plan_empty", result)
    policy = (env.limits or settings_limits(s)).values
    above = policy.approval_notional is not None and result.notional > policy.approval_notional
    waits = above and env.ctx.mode.value in policy.approval_modes
    if not waits and env.ctx.parent_run_id is not None:  # a retry of a rejected plan waits
        waits = bool(rejecters(env.store, env.ctx.run_id))
    return StepResult("approval_required" if waits else "plan_approved", result)


def execute(env: StepEnv) -> StepResult:
    rebalance = _output(env.outputs, "planning", RebalancePlan)
    report = execute_plan(
        env.ctx.run_id, rebalance, env.ports.broker, env.store, env.clock, env.fence,
        env.failpoint, may_submit=env.may_submit, settle_seconds=env.settings.order_settle_seconds,
        stop_point=env.stop_point,
    )  # fmt: skip
    return StepResult("execution_completed", report)


def _output(outputs: dict[str, BaseModel], state: str, model: type[M]) -> M:
    value = outputs.get(state)
    if not isinstance(value, model):
        raise InvalidStepOutput(f"no {model.__name__} checkpoint from {state}", state=state)
    return value
