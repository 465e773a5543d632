"""The market data contract (``fsm.ports.MarketData``, docs/plugins.md "The contracts"):
every market data plugin tradefsm bundles must pass these tests, built through its entry
point. All of them serve the same closes here (the bundled data's, written to a price file
and served as daily bars by the local Alpaca-compatible server), so they must also agree."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fsm.adapters.market_data import BundledMarketData
from fsm.errors import MissingMarketData
from fsm.plugins import MARKET_DATA, PluginSetup, create, find, installed
from fsm.ports import MarketData
from fsm.settings import Settings
from tests.alpaca_server import KEY, SECRET, AlpacaServer
from tests.conftest import TRADING_DAY

DAY = TRADING_DAY.date()
WINDOW = (DAY - timedelta(days=40), DAY)
SYMBOLS = ["AAPL", "BND", "MSFT", "SPY"]
SATURDAY = DAY - timedelta(days=(DAY.weekday() - 5) % 7 or 7)
BUNDLED = [p.name for p in installed(MARKET_DATA) if p.distribution == "tradefsm"]


def test_the_bundled_market_data_are_alpaca_bundled_and_csv() -> None:
    assert BUNDLED == ["alpaca", "bundled", "csv"]  # a new one is held to this suite by name


def _price_file(folder: Path) -> Path:
    bundled = BundledMarketData()
    rows = [f"{day},{s},{close}" for s in SYMBOLS
            for day, close in bundled.closes(s, *WINDOW).items()]  # fmt: skip
    path = folder / "closes.csv"
    path.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=BUNDLED)
def market(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MarketData]:
    with AlpacaServer() as server:
        server.book.bars = {s: BundledMarketData().closes(s, *WINDOW) for s in SYMBOLS}
        options = {
            "csv": {"path": str(_price_file(tmp_path)), "window_days": 40},
            "alpaca": {"url": server.url, "window_days": 40, "symbols": SYMBOLS},
        }.get(request.param, {})
        settings = Settings(alpaca_api_key=KEY, alpaca_secret_key=SECRET)
        setup = PluginSetup(settings, options, as_of=DAY)
        yield create(find(MARKET_DATA, request.param), setup, "prices")


def test_prices_are_of_the_symbols_asked_on_or_before_the_day(market: MarketData) -> None:
    snapshot = market.prices(SYMBOLS[:2], SATURDAY)
    assert snapshot.as_of == SATURDAY
    assert sorted(snapshot.prices) == SYMBOLS[:2]
    assert all(snapshot.dates.get(s, SATURDAY) <= SATURDAY for s in SYMBOLS[:2])
    assert all(price > 0 for price in snapshot.prices.values())


def test_the_same_day_gives_the_same_answer(market: MarketData) -> None:
    assert market.prices(SYMBOLS, DAY) == market.prices(SYMBOLS, DAY)
    assert market.prices(SYMBOLS, SATURDAY) == market.prices(SYMBOLS, SATURDAY)


def test_they_agree_with_each_other_and_keep_the_close_before(market: MarketData) -> None:
    expected = BundledMarketData().prices(SYMBOLS, SATURDAY)
    snapshot = market.prices(SYMBOLS, SATURDAY)
    assert (snapshot.prices, snapshot.dates) == (expected.prices, expected.dates)
    assert snapshot.previous == expected.previous


def test_a_symbol_it_has_no_price_for_is_missing_data(market: MarketData) -> None:
    with pytest.raises(MissingMarketData):
        market.prices(["AAPL", "ZZZZ"], DAY)


def test_its_source_is_text_naming_where_the_prices_come_from(market: MarketData) -> None:
    source = getattr(market, "source", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in source.items())
