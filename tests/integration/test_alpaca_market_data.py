"""Market data from Alpaca (the `alpaca` market data plugin, on alpaca-py's historical data
client), proven against the local Alpaca-compatible server's bars endpoint: the closes of a
window, the same transient/permanent error policy as the broker, and a whole run on them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fsm.adapters.alpaca_data import AlpacaMarketData
from fsm.adapters.market_data import BundledMarketData
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import MarketDataRejected, MarketDataUnavailable, MissingMarketData
from fsm.ids import SequentialIdFactory
from fsm.pluginports import plugged_ports
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.alpaca_server import KEY, SECRET, AlpacaServer
from tests.conftest import TRADING_DAY

DAY = TRADING_DAY.date()
WINDOW = (DAY - timedelta(days=40), DAY)
UNIVERSE = ("AAPL", "MSFT", "SPY", "BND")


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    """The server with the bundled data's closes as its daily bars (sessions only)."""
    with AlpacaServer() as running:
        bundled = BundledMarketData()
        running.book.bars = {s: bundled.closes(s, *WINDOW) for s in UNIVERSE}
        yield running


def _data(server: AlpacaServer, key: str = KEY) -> AlpacaMarketData:
    return AlpacaMarketData(key, SECRET, url=server.url, window=WINDOW, symbols=UNIVERSE)


def test_prices_are_the_last_closes_on_or_before_the_day(server: AlpacaServer) -> None:
    bundled = BundledMarketData()
    saturday = DAY - timedelta(days=(DAY.weekday() - 5) % 7 or 7)  # no bar of its own
    snapshot = _data(server).prices(["AAPL", "SPY"], saturday)
    expected = bundled.prices(["AAPL", "SPY"], saturday)
    assert (snapshot.prices, snapshot.dates) == (expected.prices, expected.dates)
    assert snapshot.previous == expected.previous
    asked = server.book.bars_asked[-1]
    assert asked["timeframe"] == ["1Day"]
    assert asked["feed"] == ["iex"]


def test_its_source_names_the_endpoint_feed_and_window(server: AlpacaServer) -> None:
    assert _data(server).source == {
        "endpoint": server.url,
        "feed": "iex",
        "window": f"{WINDOW[0].isoformat()}..{WINDOW[1].isoformat()}",
    }


def test_bars_come_in_pages(server: AlpacaServer) -> None:
    server.book.bars_page = 7
    got, expected = _data(server).prices(UNIVERSE, DAY), BundledMarketData().prices(UNIVERSE, DAY)
    assert (got.prices, got.dates, got.previous) == (expected.prices, expected.dates,
                                                     expected.previous)  # fmt: skip
    bars = sum(len(server.book.bars[s]) for s in UNIVERSE)
    assert len(server.book.bars_asked) == -(-bars // 7)  # every page, asked for in turn


def test_each_symbol_is_asked_for_once(server: AlpacaServer) -> None:
    data = _data(server)
    data.prices(["AAPL"], DAY)
    data.price("AAPL", DAY - timedelta(days=7))
    assert len(server.book.bars_asked) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_transient(server: AlpacaServer, status: int) -> None:
    server.fail_next("GET /v2/stocks/bars", status, retry_after=2.0)
    with pytest.raises(MarketDataUnavailable, match=f"Alpaca answered {status}") as raised:
        _data(server).prices(["AAPL"], DAY)
    assert raised.value.retry_after == 2.0


def test_refused_keys_and_requests_are_permanent(server: AlpacaServer) -> None:
    with pytest.raises(MarketDataRejected, match=r"Alpaca refused \(401\)") as raised:
        _data(server, key="PKWRONG").prices(["AAPL"], DAY)
    assert raised.value.status_code == 401
    server.fail_next("GET /v2/stocks/bars", 403, message="subscription does not permit SIP")
    with pytest.raises(MarketDataRejected, match="subscription does not permit SIP"):
        _data(server).prices(["AAPL"], DAY)


def test_an_endpoint_that_does_not_answer_is_transient(server: AlpacaServer) -> None:
    data = _data(server)
    server.__exit__()
    with pytest.raises(MarketDataUnavailable, match="Alpaca did not answer"):
        data.prices(["AAPL"], DAY)


def test_a_symbol_without_bars_is_missing_data(server: AlpacaServer) -> None:
    with pytest.raises(MissingMarketData, match="no daily bar of ZZZZ"):
        _data(server).prices(["AAPL", "ZZZZ"], DAY)


def test_a_run_trades_on_alpaca_market_data_and_commits_its_source(
    server: AlpacaServer, migrated_url: str, tmp_path: Path
) -> None:
    server.fail_next("GET /v2/stocks/bars", 503)  # once: the step's retry gets the bars
    settings = Settings(
        actor="quant-qi", paper_db=tmp_path / "paper.db", market_data="alpaca",
        alpaca_api_key=KEY, alpaca_secret_key=SECRET,
        plugin_options={"alpaca": {"url": server.url, "symbols": list(UNIVERSE)},
                        "demo-momentum": {"picks": 2}},
    )  # fmt: skip
    store = SqlRunStore(make_engine(migrated_url))
    ports = plugged_ports(settings, DAY, None)
    engine = Engine(store, ports, settings, FixedClock(TRADING_DAY), SequentialIdFactory(),
                    sleep=lambda _s: None)  # fmt: skip
    run = engine.run(RunRequest("paper"))
    assert run.state == "done", run.failure
    source = run.params["market_data"]
    assert (source["name"], source["endpoint"]) == ("alpaca", server.url)
    assert source["window"].endswith(f"..{DAY.isoformat()}")
    analysis = next(c.output for c in store.checkpoints(run.run_id) if c.state == "analyzing")
    assert analysis["market_data"] == source
    store.engine.dispose()


def test_market_date_is_required() -> None:
    from fsm.adapters.factories import alpaca_market_data
    from fsm.errors import InvalidConfiguration
    from fsm.plugins import PluginSetup

    setup = PluginSetup(Settings(alpaca_api_key=KEY, alpaca_secret_key=SECRET))
    with pytest.raises(InvalidConfiguration, match="built for a market date"):
        alpaca_market_data(setup)
