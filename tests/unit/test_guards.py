"""Guards are pure: the same inputs give the same recorded decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from fsm.guardcontext import GuardContext
from fsm.guards import buying_power, drift_above_threshold, drift_within_threshold
from fsm.kinds import Mode
from fsm.pluginrecords import Side
from fsm.records import AllocationAnalysis, PlanItem, RebalancePlan
from fsm.settings import Settings

DAY = date(2026, 11, 27)


def _plan(power: str, *items: tuple[Side, str]) -> RebalancePlan:
    return RebalancePlan(
        as_of=DAY,
        portfolio_value=Decimal(10000),
        buying_power=Decimal(power),
        min_trade_amount=Decimal(100),
        items=tuple(
            PlanItem(symbol=f"S{n}", action=side, target_value=Decimal(0), current_value=Decimal(0),
                     amount=Decimal(a), qty=Decimal(1), price=Decimal(1), priority=1)
            for n, (side, a) in enumerate(items)
        ),
    )  # fmt: skip


def _ctx(output: object) -> GuardContext:
    return GuardContext(Settings(), Mode.PAPER, DAY, DAY, output)


def test_buying_power_counts_sell_proceeds() -> None:
    ok = buying_power(_ctx(_plan("100", (Side.SELL, "-500"), (Side.BUY, "600"))))
    short = buying_power(_ctx(_plan("100", (Side.SELL, "-500"), (Side.BUY, "600.01"))))
    assert ok.passed
    assert not short.passed
    assert short.inputs == {"buys": "600.01", "sells": "500", "buying_power": "100"}


@given(
    drift=st.decimals(min_value=0, max_value=1, places=6),
    threshold=st.decimals(min_value=0, max_value=1, places=6),
)
def test_exactly_one_drift_guard_holds(drift: Decimal, threshold: Decimal) -> None:
    analysis = AllocationAnalysis(
        as_of=DAY, portfolio_value=Decimal(1), cash=Decimal(1), buying_power=Decimal(1),
        prices={}, positions={}, current_weights={}, target_weights={}, max_drift=drift,
        drift_threshold=threshold, rebalance_needed=drift > threshold,
    )  # fmt: skip
    above, within = drift_above_threshold(_ctx(analysis)), drift_within_threshold(_ctx(analysis))
    assert above.passed != within.passed
    assert above.passed == analysis.rebalance_needed
