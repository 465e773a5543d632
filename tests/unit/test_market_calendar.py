"""The calendar behind the market guards: sessions, early closes and price age in sessions.

Days come from the calendar and today (tests/days.py), never fixed years.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from fsm.adapters.market_data import BundledMarketData
from fsm.calendar import calendar_for
from fsm.guards import GuardContext
from fsm.kinds import Mode
from fsm.market_guards import as_of_session, prices_fresh
from fsm.pluginrecords import Side
from fsm.records import PlanItem, RebalancePlan
from fsm.settings import Settings
from tests.days import today

XNYS = calendar_for("XNYS")


def next_thanksgiving() -> date:
    """The fourth Thursday of November, this year's or next year's if it has passed."""
    for year in (today().year, today().year + 1):
        first = date(year, 11, 1)
        thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
        if thursday >= today():
            return thursday
    raise AssertionError("unreachable")


def _plan(priced: date, as_of: date) -> RebalancePlan:
    item = PlanItem(symbol="SPY", action=Side.BUY, target_value=Decimal(100),
                    current_value=Decimal(0), amount=Decimal(100), qty=Decimal(1),
                    price=Decimal(100), priority=1)  # fmt: skip
    return RebalancePlan(as_of=as_of, portfolio_value=Decimal(1000), buying_power=Decimal(1000),
                         min_trade_amount=Decimal(1), items=(item,),
                         price_dates={"SPY": priced})  # fmt: skip


def test_thanksgiving_is_no_session_and_the_day_after_closes_early() -> None:
    holiday = next_thanksgiving()
    assert not XNYS.is_session(holiday)
    friday = XNYS.session(holiday + timedelta(days=1))
    assert friday is not None
    assert friday.early
    assert friday.close - friday.open < timedelta(hours=4)


def test_price_age_counts_sessions_across_a_holiday_weekend() -> None:
    wednesday = next_thanksgiving() - timedelta(days=1)
    monday = wednesday + timedelta(days=5)
    plan = _plan(wednesday, monday)
    ctx = GuardContext(Settings(max_price_age_days=2), Mode.PAPER, monday, monday, plan)
    fresh = prices_fresh(ctx)
    assert fresh.passed  # Friday and Monday: two sessions, though three weekdays
    assert "2 XNYS session(s) before" in fresh.reason
    strict = GuardContext(Settings(max_price_age_days=1), Mode.PAPER, monday, monday, plan)
    assert not prices_fresh(strict).passed


def test_bundled_data_holds_prices_only_on_sessions() -> None:
    data = BundledMarketData()
    first, last = today() - timedelta(days=60), today() + timedelta(days=60)
    closes = data.closes("SPY", first, last)
    assert list(closes) == [s.day for s in XNYS.sessions(first, last)]
    assert all(day.weekday() < 5 for day in closes)
    assert next_thanksgiving() not in data.closes("SPY", first, next_thanksgiving())
    saturday = today() + timedelta(days=(5 - today().weekday()) % 7)
    friday = XNYS.last_on_or_before(saturday).day
    assert data.price("SPY", saturday) == closes[friday]  # no price of its own
    snapshot = data.prices(["SPY"], saturday)
    assert snapshot.dates == {"SPY": friday}
    assert snapshot.previous["SPY"] == closes[XNYS.last_on_or_before(friday - timedelta(1)).day]


def test_an_unknown_exchange_is_a_recorded_refusal_not_a_run_stopped_half_way() -> None:
    ctx = GuardContext(Settings(exchange="NOPE"), Mode.PAPER, today(), today())
    refused = as_of_session(ctx)
    assert not refused.passed
    assert "unknown exchange 'NOPE'" in refused.reason


def test_a_paper_run_as_of_a_holiday_names_the_sessions_either_side() -> None:
    holiday = next_thanksgiving()
    refused = as_of_session(GuardContext(Settings(), Mode.PAPER, holiday, holiday))
    assert not refused.passed
    before, after = holiday - timedelta(days=1), holiday + timedelta(days=1)
    assert f"the last one was {before}, the next {after};" in refused.reason
