"""Inputs for people: the run page's table per symbol (price, date, previous close, move,
target weight, current value, order) with money formatted and totals."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from fsm import display
from fsm.console import inputs
from fsm.records import AllocationAnalysis, RebalancePlan
from tests.console.conftest import Runs, console_for


@pytest.fixture(scope="module")
def client(runs: Runs) -> TestClient:
    return TestClient(console_for(runs.url).app())


def _cells(page: str, row_id: str) -> list[str]:
    row = page.split(f'<tr id="{row_id}">')[1].split("</tr>", maxsplit=1)[0]
    return re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)


def _checkpoint(runs: Runs, run_id: str, state: str) -> dict[str, object]:
    store = console_for(runs.url).store
    return next(c.output for c in store.checkpoints(run_id) if c.state == state)


def test_one_row_per_symbol_with_money_dates_moves_and_weights(
    client: TestClient, runs: Runs
) -> None:
    analysis = AllocationAnalysis.model_validate(_checkpoint(runs, runs.done.run_id, "analyzing"))
    plan = RebalancePlan.model_validate(_checkpoint(runs, runs.done.run_id, "planning"))
    page = client.get(f"/runs/{runs.done.run_id}").text
    symbol = sorted(analysis.prices)[0]
    [item] = [i for i in plan.items if i.symbol == symbol]
    price, before = analysis.prices[symbol], analysis.previous_prices[symbol]
    cells = _cells(page, f"inputs-symbol-{symbol}")
    assert cells[:8] == [
        symbol, display.money(price), analysis.price_dates[symbol].isoformat(),
        display.money(before), f"{price / before - 1:+.2%}",
        f"{analysis.target_weights[symbol] * 100:.2f}%", display.money(item.current_value),
        display.money(item.target_value),
    ]  # fmt: skip
    assert cells[8] == f"BUY {item.qty.normalize():f} × {display.money(price)} = " \
                       f"{display.money(item.amount)}"  # fmt: skip
    assert cells[9] == "filled"  # how its order ended
    assert re.search(r"\$\d{1,3},\d{3}\.\d\d", page)  # money is formatted, never 12375.00 alone


def test_the_totals(client: TestClient, runs: Runs) -> None:
    plan = RebalancePlan.model_validate(_checkpoint(runs, runs.done.run_id, "planning"))
    total = _cells(client.get(f"/runs/{runs.done.run_id}").text, "inputs-total")
    assert total[0] == "total"
    assert total[5:8] == [
        "100.00%",
        "$0.00",
        display.money(sum(i.target_value for i in plan.items)),
    ]
    assert total[8] == f"buy {display.money(plan.notional)}, sell $0.00"


def test_a_refused_run_shows_its_inputs_without_a_plan(client: TestClient, runs: Runs) -> None:
    page = client.get(f"/runs/{runs.refused.run_id}").text
    assert 'id="inputs"' in page
    assert "no plan was checkpointed" in page


def _details(price_day: str) -> dict[str, object]:
    analysis = {
        "as_of": "2026-11-27", "portfolio_value": "1000", "cash": "400", "buying_power": "400",
        "prices": {"AAA": "10", "BBB": "20"}, "previous_prices": {"AAA": "8"},
        "price_dates": {"AAA": price_day, "BBB": "2026-11-27"},
        "positions": {"AAA": "30", "BBB": "15"}, "current_weights": {},
        "target_weights": {"AAA": "0.1", "BBB": "0.5"}, "max_drift": "0.2",
        "drift_threshold": "0.05", "rebalance_needed": True,
    }  # fmt: skip
    plan = {
        "as_of": "2026-11-27", "portfolio_value": "1000", "buying_power": "400",
        "min_trade_amount": "1", "items": [
            {"symbol": "AAA", "action": "SELL", "target_value": "100", "current_value": "300",
             "amount": "-200", "qty": "20", "price": "10", "priority": 3},
            {"symbol": "BBB", "action": "HOLD", "target_value": "300", "current_value": "300",
             "amount": "0", "qty": "0", "price": "20", "priority": 5}],
    }  # fmt: skip
    return {"checkpoints": [{"state": "analyzing", "output": analysis},
                            {"state": "planning", "output": plan}], "orders": []}  # fmt: skip


def test_a_sell_a_hold_a_stale_price_and_no_previous_close() -> None:
    table = inputs.by_symbol(_details("2026-11-26"))
    assert table is not None
    aaa, bbb = table["rows"]
    assert (aaa["move"], aaa["stale"], aaa["order"]) == ("+25.00%", "stale",
                                                        "SELL 20 × $10.00 = $200.00")  # fmt: skip
    assert (bbb["move"], bbb["previous"], bbb["order"]) == ("", "", "hold")
    assert table["totals"] == {
        "weight": "60.00%", "current": "$600.00", "target": "$400.00", "buy": "$0.00",
        "sell": "$200.00",
    }  # fmt: skip


def test_before_any_analysis_there_is_no_table() -> None:
    assert inputs.by_symbol({"checkpoints": [], "orders": []}) is None
    assert display.percent(Decimal("0.125")) == "12.50%"
    assert display.change(Decimal("99"), Decimal("100")) == "-1.00%"


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(850, "850 ms"), (4_200, "4.2 s"), (185_000, "3 min 05 s"), (7_500_000, "2 h 05 min"),
     (606_305_000, "7 d 0 h")],
)  # fmt: skip
def test_a_long_stay_reads_in_hours_and_days(ms: float, shown: str) -> None:
    assert display.took(ms) == shown
