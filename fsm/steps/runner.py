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
from fsm.errors import (
    DatabaseUnavailable,
    InvalidConfiguration,
    InvalidStepOutput,
    StorageAccessDenied,
    TradeFsmError,
)
from fsm.kinds import Mode
from fsm.limits import Limits, settings_limits
from fsm.lineage import rejecters
from fsm.machines.names import TradingEvent as E
from fsm.machines.names import TradingState as S
from fsm.pluginrecords import AccountSnapshot, PriceSnapshot, SignalSet
from fsm.ports import RunContext, RunStore
from fsm.records import AllocationAnalysis, Fence, RebalancePlan
from fsm.requests import Ports
from fsm.settings import Settings
from fsm.steps import validate_output
from fsm.steps.analysis import analyse
from fsm.steps.execution import execute_plan, withdraw
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
    return StepResult(E.START)


def generate_signals(env: StepEnv) -> StepResult:
    ctx = env.ctx
    signals = validate_output(
        SignalSet, env.ports.signals.generate(ctx), state=S.GENERATING_SIGNALS
    )
    event = E.SIGNALS_REPORTED if ctx.mode is Mode.SIGNALS_ONLY else E.SIGNALS_GENERATED
    return StepResult(event, signals)


def analyse_allocation(env: StepEnv) -> StepResult:
    ctx, ports = env.ctx, env.ports
    signals = _output(env.outputs, S.GENERATING_SIGNALS, SignalSet)
    account = validate_output(AccountSnapshot, ports.broker.account(), state=S.ANALYZING)
    symbols = sorted({t.symbol for t in signals.targets} | {p.symbol for p in account.positions})
    prices = validate_output(
        PriceSnapshot, ports.market_data.prices(symbols, ctx.as_of), state=S.ANALYZING
    )
    missing = [s for s in symbols if s not in prices.prices]
    bad = [s for s, p in prices.prices.items() if p <= Decimal(0)]
    if missing or bad:
        raise InvalidStepOutput(
            f"price snapshot for {ctx.as_of} lacks {missing[:5]} or has non-positive {bad[:5]}",
            state=S.ANALYZING,
        )
    analysis = analyse(signals, account, prices, env.settings.drift_threshold)
    return StepResult(
        E.REBALANCE_NEEDED if analysis.rebalance_needed else E.REBALANCE_NOT_NEEDED, analysis
    )


def plan(env: StepEnv) -> StepResult:
    analysis = _output(env.outputs, S.ANALYZING, AllocationAnalysis)
    s = env.settings
    result = plan_rebalance(analysis, s.cash_reserve, s.min_trade_fraction)
    if env.ctx.mode is Mode.DRY_RUN:
        return StepResult(E.PLAN_REPORTED, result)
    if not result.trades:
        return StepResult(E.PLAN_EMPTY, result)
    policy = (env.limits or settings_limits(s)).values
    above = policy.approval_notional is not None and result.notional > policy.approval_notional
    waits = above and env.ctx.mode.value in policy.approval_modes
    if not waits and env.ctx.parent_run_id is not None:  # a retry of a rejected plan waits
        waits = bool(rejecters(env.store, env.ctx.run_id))
    return StepResult(E.APPROVAL_REQUIRED if waits else E.PLAN_APPROVED, result)


def execute(env: StepEnv) -> StepResult:
    rebalance = _output(env.outputs, S.PLANNING, RebalancePlan)
    report = execute_plan(
        env.ctx.run_id, rebalance, env.ports.broker, env.store, env.clock, env.fence,
        env.failpoint, may_submit=env.may_submit, settle_seconds=env.settings.order_settle_seconds,
        stop_point=env.stop_point,
    )  # fmt: skip
    return StepResult(E.EXECUTION_COMPLETED, report)


def stand_down_orders(env: StepEnv) -> str | None:
    """Executing's stand-down: reconcile what was sent with the broker, then withdraw the rest
    (never-sent intents cancelled, open orders cancelled at the broker)."""
    env.may_submit = False
    try:
        execute(env)
    except (DatabaseUnavailable, StorageAccessDenied):
        raise  # nothing may be stood down unrecorded: the run stays resumable
    except TradeFsmError as exc:
        return f"reconciling orders failed: {exc.message}"
    return withdraw(env.ctx.run_id, env.ports.broker, env.store, env.clock, env.fence)


def _output(outputs: dict[str, BaseModel], state: str, model: type[M]) -> M:
    value = outputs.get(state)
    if not isinstance(value, model):
        raise InvalidStepOutput(f"no {model.__name__} checkpoint from {state}", state=state)
    return value
