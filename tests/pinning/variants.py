"""Machine definitions a deploy could bring: the trading chart with a guard added, or without
its approval state, and a spec set that reads plans of a newer schema."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.clock import Clock
from fsm.definition import MachineDefinition, trading_definition
from fsm.engine import Engine
from fsm.ids import SequentialIdFactory
from fsm.machines.specs import TRADING_SPECS
from fsm.ports import RunStore
from fsm.records import RebalancePlan
from fsm.requests import Ports
from fsm.settings import Settings
from fsm.spec import SpecSet

PARKS = Settings(actor="trader-ann", approval_notional=Decimal(1000), approval_timeout_seconds=3600)
APPROVED = ("awaiting_approval", "approved")


def with_extra_guard() -> SpecSet:
    """The chart as an older release had it: approval did not yet check the market is open."""
    chart = trading_definition()
    moves = dict(chart.transitions)
    moves[APPROVED] = replace(moves[APPROVED], guards=moves[APPROVED].guards[:-1])
    return SpecSet("trading", replace(chart, transitions=moves), dict(TRADING_SPECS))


def without_approval() -> SpecSet:
    """A chart whose plans never wait for a person: ``awaiting_approval`` is gone."""
    chart, gone = trading_definition(), "awaiting_approval"
    moves = {k: t for k, t in chart.transitions.items() if gone not in (t.source, t.target)}
    events = tuple(e for e in chart.events if e not in ("approved", "rejected",
                                                         "approval_required"))  # fmt: skip
    shrunk: MachineDefinition = replace(
        chart, states=tuple(s for s in chart.states if s != gone), events=events,
        transitions=moves,
    )  # fmt: skip
    specs = {s: spec for s, spec in TRADING_SPECS.items() if s != gone}
    planning = specs["planning"]
    specs["planning"] = replace(planning, events=tuple(e for e in planning.events
                                                       if e != "approval_required"))  # fmt: skip
    return SpecSet("trading", shrunk, specs)


class PlanV2(RebalancePlan):
    """A plan of a newer schema: checkpoints of schema 1 are not what it reads."""

    schema_version: int = 2  # type: ignore[assignment]


def reading_plans_v2(*, accepts_v1: bool) -> SpecSet:
    """The current chart, with a plan model of schema 2; the approval spec may still accept
    plans of schema 1."""
    specs = dict(TRADING_SPECS)
    specs["planning"] = replace(specs["planning"], output=PlanV2)
    if accepts_v1:
        specs["awaiting_approval"] = replace(specs["awaiting_approval"], accepts=(1,))
    return SpecSet("trading", trading_definition(), specs)


def engine_of(store: RunStore, broker: PaperBroker, clock: Clock, specs: SpecSet,
              prefix: str, settings: Settings = PARKS) -> Engine:  # fmt: skip
    """An engine of ``specs``: a process running that release."""
    market = BundledMarketData()
    ports = Ports(MomentumStrategy(market), market, broker)
    return Engine(store, ports, settings, clock, SequentialIdFactory(prefix), specs=specs)
