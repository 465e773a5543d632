"""The bundled adapters as plugins: the factories tradefsm's own entry points name
(pyproject.toml), built from a ``PluginSetup`` as any installed plugin is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsm.adapters.market_data import BundledMarketData, CsvMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import LOOKBACK, MomentumStrategy, PriceHistory
from fsm.errors import InvalidConfiguration

if TYPE_CHECKING:
    from fsm.plugins import PluginSetup
    from fsm.ports import Broker, MarketData
    from fsm.settings import Settings

PRICE_SLACK = timedelta(days=10)  # week-ends and holidays around the demo strategy's lookback


def demo_momentum(setup: PluginSetup) -> MomentumStrategy:
    """The demo strategy over the selected market data, which must also answer
    ``universe()`` and ``price(symbol, day)`` (the bundled and CSV data do); option ``picks``."""
    market = setup.market_data
    if not (
        callable(getattr(market, "universe", None)) and callable(getattr(market, "price", None))
    ):
        raise InvalidConfiguration(
            "the demo strategy needs market data that lists its universe and single prices "
            "(bundled or csv)"
        )
    history: PriceHistory = market  # type: ignore[assignment]  # checked just above
    return MomentumStrategy(history, picks=_whole(setup.accept("picks"), "picks", 8))


def bundled_market_data(setup: PluginSetup) -> BundledMarketData:
    """Deterministic prices on the sessions of the configured exchange; option ``seed``."""
    seed = _whole(setup.accept("seed"), "seed", 7, least=0)
    return BundledMarketData(seed=seed, exchange=setup.trading_exchange)


def csv_market_data(setup: PluginSetup) -> CsvMarketData:
    """A CSV price file (option ``path``, or `--prices FILE`), read for the ``window_days``
    before the market date only (default: the demo strategy's lookback and ten days)."""
    options = setup.accept("path", "window_days")
    path = options.get("path")
    if not isinstance(path, str) or not path:
        raise InvalidConfiguration(
            "market data csv needs a file: `--prices FILE`, or path under [csv] in tradefsm.toml"
        )
    span = timedelta(days=_whole(options, "window_days", (LOOKBACK + PRICE_SLACK).days))
    window = None if setup.as_of is None else (setup.as_of - span, setup.as_of)
    return CsvMarketData(Path(path), window)


def paper_broker(setup: PluginSetup) -> PaperBroker:
    """The embedded paper broker (TRADEFSM_PAPER_* settings) for the setup's account."""
    setup.accept()  # its settings are TRADEFSM_PAPER_*
    settings = setup.settings
    return PaperBroker(
        settings.paper_db,
        account_id=setup.account_id or settings.account_id,
        reject_duplicates=settings.paper_reject_duplicates,
        latency_s=settings.paper_latency_ms / 1000,
    )


def alpaca_broker(setup: PluginSetup) -> Broker:
    """Alpaca (TRADEFSM_ALPACA_* settings) for the setup's account; needs alpaca-py."""
    from fsm.adapters.alpaca import AlpacaBroker  # noqa: PLC0415  # alpaca-py is optional

    setup.accept()  # its settings are TRADEFSM_ALPACA_*
    settings = setup.settings
    key, secret = _alpaca_keys(settings, "TRADEFSM_BROKER=alpaca")
    return AlpacaBroker(key, secret, settings.alpaca_base_url,
                        setup.account_id or settings.account_id)  # fmt: skip


def alpaca_market_data(setup: PluginSetup) -> MarketData:
    """Daily bars from Alpaca (the TRADEFSM_ALPACA_* keys) for the ``window_days`` before the
    market date (default: the demo strategy's lookback and ten days); options ``url`` (its
    data endpoint), ``feed`` (default iex) and ``symbols`` (the universe strategies may ask
    for); needs alpaca-py."""
    from fsm.adapters.alpaca_data import ALPACA_DATA_URL, AlpacaMarketData  # noqa: PLC0415

    key, secret = _alpaca_keys(setup.settings, "market data alpaca")
    options = setup.accept("url", "feed", "symbols", "window_days")
    last = setup.as_of
    if last is None:
        raise InvalidConfiguration("market data alpaca is built for a market date")
    span = timedelta(days=_whole(options, "window_days", (LOOKBACK + PRICE_SLACK).days))
    return AlpacaMarketData(
        key, secret, url=str(options.get("url", ALPACA_DATA_URL)),
        feed=str(options.get("feed", "iex")), window=(last - span, last),
        symbols=[str(s) for s in options.get("symbols", ())],
    )  # fmt: skip


def _alpaca_keys(settings: Settings, what: str) -> tuple[str, str]:
    key, secret = settings.alpaca_api_key, settings.alpaca_secret_key
    if key is None or secret is None:
        raise InvalidConfiguration(
            f"{what} needs TRADEFSM_ALPACA_API_KEY and TRADEFSM_ALPACA_SECRET_KEY"
        )
    return key.get_secret_value(), secret.get_secret_value()


def _whole(options: Mapping[str, Any], name: str, default: int, least: int = 1) -> int:
    """Option ``name``: a whole number (or its digits as text) of at least ``least``."""
    value = options.get(name, default)
    digits = isinstance(value, str) and value.isascii() and value.isdigit()
    if (type(value) is not int and not digits) or int(value) < least:  # not a bool or float
        raise InvalidConfiguration(
            f"{name} must be a whole number of at least {least}, not {value!r}"
        )
    return int(value)
