"""Alpaca's market data as the market data port, on alpaca-py's historical data client.

Daily bars (``StockHistoricalDataClient.get_stock_bars``, timeframe one day) of the symbols
asked for, over the ``window_days`` before the market date: each symbol's price is the close
of its last bar on or before that date, with the close before it. Errors follow the Alpaca
broker's policy (``fsm.adapters.alpaca``): 429 (its Retry-After honoured), 5xx, timeouts and
refused connections are ``MarketDataUnavailable`` (transient, retried by the step); 401, 403
(bad keys, a feed the subscription does not cover) and 422 are ``MarketDataRejected``. A
symbol without a bar in the window is ``MissingMarketData``.

What a run commits of it (``source``): the endpoint, the feed and the request window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fsm.adapters.alpaca import AlpacaErrors, call_alpaca, without_sdk_retries
from fsm.adapters.market_data import PREVIOUS_CLOSE_DAYS
from fsm.errors import (
    InvalidConfiguration,
    MarketDataRejected,
    MarketDataUnavailable,
    MissingMarketData,
)
from fsm.pluginrecords import PriceSnapshot

ALPACA_DATA_URL = "https://data.alpaca.markets"
DATA_ERRORS = AlpacaErrors(MarketDataUnavailable, MarketDataRejected)
BAR_DAY = ZoneInfo("America/New_York")  # a daily bar's timestamp is its session's midnight there


class AlpacaMarketData:
    """Daily closes from Alpaca for the ``window`` (first, last day) of the run's market date;
    ``symbols`` is the universe a strategy may ask for (``universe()``)."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        url: str = ALPACA_DATA_URL,
        feed: str = "iex",
        window: tuple[date, date],
        symbols: Sequence[str] = (),
        timeout: float = 10.0,
    ) -> None:
        try:
            from alpaca.data.historical import StockHistoricalDataClient  # noqa: PLC0415
        except ImportError as exc:
            raise InvalidConfiguration(
                "market data alpaca needs the Alpaca SDK: pip install 'tradefsm[alpaca]'"
            ) from exc
        client = StockHistoricalDataClient(api_key, secret_key, raw_data=True, url_override=url)
        self._client: Any = without_sdk_retries(client, timeout)
        self.url, self.feed, self.window, self.symbols = url, feed, window, tuple(symbols)
        self._series: dict[str, dict[date, Decimal]] = {}
        self.source = {"endpoint": url, "feed": feed,
                       "window": f"{window[0].isoformat()}..{window[1].isoformat()}"}  # fmt: skip

    def universe(self) -> tuple[str, ...]:
        return self.symbols

    def price(self, symbol: str, day: date) -> Decimal:
        series = self._closes([symbol])[symbol]
        return series[_last(symbol, series, day)]

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        """Each symbol's last close on or before ``as_of``, with its date and the close before."""
        closes = self._closes(symbols)
        dates = {s: _last(s, closes[s], as_of) for s in symbols}
        previous = {}
        for symbol, day in dates.items():
            earlier = [d for d in closes[symbol] if 0 < (day - d).days <= PREVIOUS_CLOSE_DAYS]
            if earlier:
                previous[symbol] = closes[symbol][max(earlier)]
        prices = {s: closes[s][d] for s, d in dates.items()}
        return PriceSnapshot(as_of=as_of, prices=prices, dates=dates, previous=previous)

    def _closes(self, symbols: Sequence[str]) -> dict[str, dict[date, Decimal]]:
        """The window's closes of ``symbols``, asked of Alpaca once per symbol."""
        missing = sorted(set(symbols) - set(self._series))
        if missing:
            self._series |= {s: {} for s in missing} | self._bars(missing)
        return {s: self._series[s] for s in symbols}

    def _bars(self, symbols: Sequence[str]) -> dict[str, dict[date, Decimal]]:
        from alpaca.data.requests import StockBarsRequest  # noqa: PLC0415
        from alpaca.data.timeframe import TimeFrame  # noqa: PLC0415

        first, last = self.window
        request = StockBarsRequest(
            symbol_or_symbols=list(symbols), timeframe=TimeFrame.Day, feed=self.feed,
            start=datetime.combine(first, time(), UTC),
            end=datetime.combine(last + timedelta(days=1), time(), UTC),
        )  # fmt: skip
        raw = call_alpaca(lambda: self._client.get_stock_bars(request), self.url, DATA_ERRORS)
        return {symbol: {_session_day(b["t"]): Decimal(str(b["c"])) for b in bars}
                for symbol, bars in raw.items()}  # fmt: skip


def _session_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(BAR_DAY).date()


def _last(symbol: str, series: dict[date, Decimal], day: date) -> date:
    known = [d for d in series if d <= day]
    if not known:
        raise MissingMarketData(f"Alpaca has no daily bar of {symbol} on or before {day}")
    return max(known)
