"""The bundled adapters as plugins: the factories tradefsm's own entry points name
(pyproject.toml), built from a ``PluginSetup`` as any installed plugin is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

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
    return MomentumStrategy(history, picks=int(setup.options.get("picks", 8)))


def bundled_market_data(setup: PluginSetup) -> BundledMarketData:
    """Deterministic prices on the sessions of the configured exchange; option ``seed``."""
    return BundledMarketData(
        seed=int(setup.options.get("seed", 7)), exchange=setup.trading_exchange
    )


def csv_market_data(setup: PluginSetup) -> CsvMarketData:
    """A CSV price file (option ``path``, or `--prices FILE`), read for the ``window_days``
    before the market date only (default: the demo strategy's lookback and ten days)."""
    path = setup.options.get("path")
    if not isinstance(path, str) or not path:
        raise InvalidConfiguration(
            "market data csv needs a file: `--prices FILE`, or path under [csv] in tradefsm.toml"
        )
    days = setup.options.get("window_days")
    span = timedelta(days=int(days)) if days is not None else LOOKBACK + PRICE_SLACK
    window = None if setup.as_of is None else (setup.as_of - span, setup.as_of)
    return CsvMarketData(Path(path), window)


def paper_broker(setup: PluginSetup) -> PaperBroker:
    """The embedded paper broker (TRADEFSM_PAPER_* settings) for the setup's account."""
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
    options = setup.options
    last = setup.as_of
    if last is None:
        raise InvalidConfiguration("market data alpaca is built for a market date")
    days = options.get("window_days")
    span = timedelta(days=int(days)) if days is not None else LOOKBACK + PRICE_SLACK
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
