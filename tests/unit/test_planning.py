"""The planner's arithmetic (DOMAIN.md §2) on examples and generated portfolios."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from fsm.pluginrecords import Side
from fsm.records import AllocationAnalysis
from fsm.steps.planning import plan_rebalance, priority

DAY = date(2026, 11, 27)
D = Decimal


def _analysis(
    cash: str, positions: dict[str, str], targets: dict[str, str], prices: dict[str, str]
):
    held = {s: D(q) for s, q in positions.items()}
    px = {s: D(p) for s, p in prices.items()}
    pv = D(cash) + sum((q * px[s] for s, q in held.items()), D(0))
    return AllocationAnalysis(
        as_of=DAY, portfolio_value=pv, cash=D(cash), buying_power=D(cash), prices=px,
        positions=held, current_weights={}, target_weights={s: D(w) for s, w in targets.items()},
        max_drift=D(1), drift_threshold=D(0), rebalance_needed=True,
    )  # fmt: skip


def test_worked_example() -> None:
    analysis = _analysis(
        cash="2000",
        positions={"AAA": "100", "OLD": "10"},  # AAA $5,000, OLD $3,000 → pv $10,000
        targets={"AAA": "0.3", "BBB": "0.69", "CCC": "0.005"},
        prices={"AAA": "50", "OLD": "300", "BBB": "20", "CCC": "10"},
    )
    plan = plan_rebalance(analysis, cash_reserve=D("0.01"), min_trade_fraction=D("0.01"))
    assert plan.min_trade_amount == D("100.00")
    by_symbol = {i.symbol: i for i in plan.items}
    # effective value 9,900: AAA target 2,970 → SELL 2,030 (40.6 shares)
    assert (by_symbol["AAA"].action, by_symbol["AAA"].amount) == (Side.SELL, D("-2030.00"))
    assert by_symbol["AAA"].qty == D("40.6")
    # OLD leaves the strategy: the whole position is sold
    assert (by_symbol["OLD"].action, by_symbol["OLD"].qty) == (Side.SELL, D("10"))
    assert (by_symbol["BBB"].action, by_symbol["BBB"].amount) == (Side.BUY, D("6831.00"))
    # CCC's $49.50 is under the $100 minimum trade: HOLD
    assert by_symbol["CCC"].action is Side.HOLD
    assert [i.symbol for i in plan.items] == ["OLD", "AAA", "BBB", "CCC"]
    assert plan.items[0].priority == 2  # $3,000 is in the ≥ $1k band


def test_zero_portfolio_value_gives_an_all_hold_plan() -> None:
    analysis = _analysis("0", {}, {"AAA": "0.5", "BBB": "0.5"}, {"AAA": "10", "BBB": "20"})
    plan = plan_rebalance(analysis, D("0.01"), D("0.01"))
    assert plan.trades == ()
    assert {i.action for i in plan.items} == {Side.HOLD}


def test_priority_bands() -> None:
    assert [priority(D(a)) for a in ("10000", "9999.99", "1000", "100", "50", "49.99")] == [
        1, 2, 2, 3, 4, 5
    ]  # fmt: skip


money = st.decimals(min_value=0, max_value=1_000_000, places=2)
price = st.decimals(min_value=D("0.5"), max_value=5000, places=2)
symbols = st.sampled_from(["AAA", "BBB", "CCC", "DDD", "EEE"])


@st.composite
def portfolios(draw: st.DrawFn) -> AllocationAnalysis:
    names = draw(st.lists(symbols, min_size=1, max_size=5, unique=True))
    held = draw(st.lists(symbols, max_size=5, unique=True))
    prices = {s: str(draw(price)) for s in set(names) | set(held)}
    positions = {s: str(draw(st.decimals(min_value=0, max_value=5000, places=3))) for s in held}
    raw = [draw(st.integers(min_value=0, max_value=100)) for _ in names]
    total = sum(raw) or 1
    targets = {s: str((D(r) / D(total)).quantize(D("0.0001"), rounding="ROUND_DOWN"))
               for s, r in zip(names, raw, strict=True)}  # fmt: skip
    return _analysis(str(draw(money)), positions, targets, prices)


@given(portfolios())
def test_plans_fit_the_account_and_keep_their_order(analysis: AllocationAnalysis) -> None:
    plan = plan_rebalance(analysis, D("0.01"), D("0.01"))
    buys = sum((i.amount for i in plan.items if i.action is Side.BUY), D(0))
    sells = sum((-i.amount for i in plan.items if i.action is Side.SELL), D(0))
    assert buys <= analysis.buying_power + sells
    actions = [i.action for i in plan.items]
    assert actions == sorted(actions, key=[Side.SELL, Side.BUY, Side.HOLD].index)
    for item in plan.trades:
        assert abs(item.amount) >= plan.min_trade_amount
        assert item.qty > 0
        if item.action is Side.SELL:
            assert item.qty <= analysis.positions[item.symbol]
        else:
            assert item.qty * item.price <= item.amount
    for item in plan.items:
        if item.action is Side.HOLD:
            assert item.qty == 0
