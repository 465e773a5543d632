"""The ports of an engine, made from the plugins settings and flags name (``fsm.plugins``).

A strategy or market data plugin is wrapped so that whatever it raises or returns malformed
becomes PluginFailed naming it (ledgered as the run's failure), and so that what ran is
committed: the strategy's name, distribution version and configuration hash go into each new
run's params (``Ports.identity``), the market data's source into each analysis checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from fsm.attempts import running
from fsm.errors import (
    InvalidStepOutput,
    PluginFailed,
    PluginMismatch,
    PluginNotFound,
    StepTimeout,
    TradeFsmError,
    replace_message,
)
from fsm.interrupts import raised_by_code
from fsm.machines.names import TradingState as S
from fsm.pluginrecords import (
    AccountSnapshot,
    OrderAck,
    OrderIntent,
    OrderStatus,
    PriceSnapshot,
    SignalSet,
)
from fsm.plugins import (
    BROKERS,
    GROUPS,
    MARKET_DATA,
    STRATEGIES,
    Plugin,
    PluginSetup,
    config_hash,
    create,
    failure,
    find,
    installed,
)
from fsm.ports import Broker, MarketData, RunContext, SignalSource
from fsm.requests import MARKET_DATA_PARAM, STRATEGY_PARAM, Ports
from fsm.runplugins import differences
from fsm.settings import Settings
from fsm.steps import validate_output

BROKER_METHODS = ("account", "submit", "orders", "cancel")
T = TypeVar("T")
log = logging.getLogger("tradefsm.engine")
M = TypeVar("M", bound=BaseModel)


def plugged_ports(
    settings: Settings, as_of: date | None, prices: Path | None = None, exchange: str | None = None
) -> Ports:
    """The strategy, market data and broker ``settings`` name (``--prices FILE``: the csv
    market data with that file), each built by its plugin with its options, for the risk
    policy's ``exchange`` (``PluginSetup.exchange``)."""
    strategy, market = plugged_signals(settings, as_of, prices, exchange)
    plugin = find(BROKERS, settings.broker)
    broker_for = cache(
        lambda account_id: PluggedBroker(
            plugin, broker_of(settings, account_id, exchange, plugin=plugin)
        )
    )
    broker = broker_for(settings.account_id)
    identity = identity_of(strategy, market)

    def rebuild(committed: Mapping[str, Any], run_as_of: date) -> Ports:
        return committed_ports(settings, committed, run_as_of, broker, exchange)

    return Ports(strategy, market, broker, broker_for=broker_for, identity=identity,
                 rebuild=rebuild)  # fmt: skip


def plugged_signals(
    settings: Settings, as_of: date | None, prices: Path | None = None, exchange: str | None = None
) -> tuple[PluggedStrategy, PluggedMarketData]:
    """The strategy ``settings`` name over the market data they name (see ``plugged_ports``)."""
    _check_option_tables(settings.plugin_options)
    market_name = "csv" if prices is not None else settings.market_data
    market_options = _options(settings, market_name)
    if prices is not None:
        market_options = {**market_options, "path": str(prices)}
    market = PluggedMarketData.build(settings, market_name, market_options, as_of, exchange)
    return PluggedStrategy.build(settings, market.inner, as_of, exchange=exchange), market


def identity_of(strategy: PluggedStrategy, market: PluggedMarketData) -> dict[str, Any]:
    """What a run commits of its strategy and market data (its ADAPTER_PARAMS)."""
    return {STRATEGY_PARAM: strategy.identity, MARKET_DATA_PARAM: market.source}


def committed_ports(
    settings: Settings,
    committed: Mapping[str, Any],
    as_of: date,
    broker: Broker,
    exchange: str | None = None,
) -> Ports:
    """The strategy and market data a run ``committed`` (its STRATEGY_PARAM and
    MARKET_DATA_PARAM), built again for its market date: the same plugins, each with its
    options in ``settings`` (a price file: the committed path). What is built must be what the
    run committed (version, configuration hash, the file's SHA-256), else PluginMismatch."""
    wanted, source = committed.get(STRATEGY_PARAM), committed.get(MARKET_DATA_PARAM)
    if not isinstance(wanted, Mapping) or not isinstance(source, Mapping):
        raise PluginMismatch("the run committed no strategy or no market data")
    options = _options(settings, str(source["name"]))
    if "path" in source:  # a price file's, which must still hash as it did
        options = {**options, "path": str(source["path"])}
    market = PluggedMarketData.build(settings, str(source["name"]), options, as_of, exchange)
    strategy = PluggedStrategy.build(settings, market.inner, as_of, str(wanted["name"]),
                                     exchange=exchange)  # fmt: skip
    built = identity_of(strategy, market)
    differ = differences(committed, built)
    if differ:
        raise PluginMismatch(f"as built here: {'; '.join(differ)}")
    return Ports(strategy, market, broker, identity=built)


def broker_of(
    settings: Settings,
    account_id: str,
    exchange: str | None = None,
    *,
    plugin: Plugin | None = None,
) -> Broker:
    """The broker TRADEFSM_BROKER names, for one account (``plugin``: that broker's plugin,
    when the caller has already found it)."""
    plugin = find(BROKERS, settings.broker) if plugin is None else plugin
    setup = PluginSetup(settings, _options(settings, plugin.name), account_id=account_id,
                        exchange=exchange)  # fmt: skip
    return _made(plugin, setup, BROKER_METHODS)  # type: ignore[no-any-return]


class PluggedStrategy:
    """A strategy plugin as the engine's SignalSource, naming the plugin when it fails."""

    def __init__(self, plugin: Plugin, inner: SignalSource, options: Mapping[str, Any]) -> None:
        self.plugin = plugin
        self.inner = inner
        self.identity = {
            "name": plugin.name,
            "distribution": plugin.distribution,
            "version": plugin.version,
            "config_sha256": config_hash(options),
            **said_source(plugin, inner),  # a portfolio's file, for one
        }

    @classmethod
    def build(
        cls,
        settings: Settings,
        market: MarketData,
        as_of: date | None,
        name: str | None = None,
        options: Mapping[str, Any] | None = None,
        exchange: str | None = None,
    ) -> PluggedStrategy:
        """The strategy plugin ``name`` (default: the settings') over the plugin's own
        ``market``, with ``options`` (default: its table in the settings)."""
        plugin = find(STRATEGIES, name or settings.strategy)
        options = _options(settings, plugin.name) if options is None else options
        setup = PluginSetup(settings, options, as_of=as_of, market_data=market,
                            exchange=exchange)  # fmt: skip
        return cls(plugin, _made(plugin, setup, ("generate",)), options)

    def generate(self, ctx: RunContext) -> SignalSet:
        """The plugin's signals, valid and dated no later than the run (no future data)."""
        made = _named(self.plugin, lambda: self.inner.generate(ctx), S.GENERATING_SIGNALS)
        signals = _valid(self.plugin, SignalSet, made, S.GENERATING_SIGNALS)
        if signals.as_of > ctx.as_of:
            raise failure(self.plugin, f"returned signals as of {signals.as_of}, after the "
                          f"run's as_of {ctx.as_of}", state=S.GENERATING_SIGNALS)  # fmt: skip
        return signals


class PluggedMarketData:
    """A market data plugin as the engine's MarketData: each snapshot names its ``source``
    (plugin, distribution, version, and what the plugin says of itself: a file's path and
    SHA-256), which the analysis checkpoint keeps."""

    def __init__(self, plugin: Plugin, inner: MarketData) -> None:
        self.plugin = plugin
        self.inner = inner
        self.source = {"name": plugin.name, "distribution": plugin.distribution,
                       "version": plugin.version, **said_source(plugin, inner)}  # fmt: skip

    @classmethod
    def build(
        cls,
        settings: Settings,
        name: str,
        options: Mapping[str, Any],
        as_of: date | None,
        exchange: str | None = None,
    ) -> PluggedMarketData:
        plugin = find(MARKET_DATA, name)
        setup = PluginSetup(settings, options, as_of=as_of, exchange=exchange)
        return cls(plugin, _made(plugin, setup, ("prices",)))

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        made = _named(self.plugin, lambda: self.inner.prices(symbols, as_of), S.ANALYZING)
        snapshot = _valid(self.plugin, PriceSnapshot, made, S.ANALYZING)
        return snapshot.model_copy(update={"source": self.source})


class PluggedBroker:
    """A broker plugin as the engine's Broker: each call is passed on as it is, errors
    included (their type decides retries), and a step timeout while a call waits names the
    plugin."""

    def __init__(self, plugin: Plugin, inner: Broker) -> None:
        self.plugin, self.inner = plugin, inner

    def account(self) -> AccountSnapshot:
        """The account as the plugin reports it; malformed, a PluginFailed naming it (as is
        a malformed acknowledgement or order status below)."""
        with running(self.plugin.title):
            made = self.inner.account()
        return _valid(self.plugin, AccountSnapshot, made, S.ANALYZING)

    def submit(self, intent: OrderIntent) -> OrderAck:
        """The acknowledgement; a malformed one is an unknown outcome, resolved by asking for
        the order: its status is the answer when the broker holds it, else PluginFailed."""
        with running(self.plugin.title):
            made = self.inner.submit(intent)
        try:
            return _valid(self.plugin, OrderAck, made, S.EXECUTING)
        except PluginFailed as exc:  # the order may be placed: never a reason to resend it
            coid = intent.client_order_id
            held = [o for o in self.orders([coid]) if o.client_order_id == coid]
            if not held:
                raise
            log.warning("broker_ack_malformed", extra={"client_order_id": coid,
                                                       "error": exc.message})  # fmt: skip
            return OrderAck.model_validate(held[0].model_dump(include=set(OrderAck.model_fields)))

    def orders(self, client_order_ids: Sequence[str]) -> list[OrderStatus]:
        with running(self.plugin.title):
            made = self.inner.orders(client_order_ids)
        if not isinstance(made, list | tuple):
            raise failure(self.plugin, f"returned {type(made).__name__}, not a list of order "
                          "statuses", state=S.EXECUTING)  # fmt: skip
        return [_valid(self.plugin, OrderStatus, status, S.EXECUTING) for status in made]

    def cancel(self, client_order_id: str) -> OrderStatus:
        with running(self.plugin.title):
            made = self.inner.cancel(client_order_id)
        return _valid(self.plugin, OrderStatus, made, S.EXECUTING)


def said_source(plugin: Plugin, made: object) -> dict[str, str]:
    """What a plugin's ``source`` attribute says of where its input comes from (a file's path
    and SHA-256, an endpoint): text to text, committed with each run."""
    said = getattr(made, "source", {})
    if not isinstance(said, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in said.items()
    ):
        raise failure(plugin, "has a source that is not a mapping of text to text")
    return dict(said)


def _made(plugin: Plugin, setup: PluginSetup, methods: Sequence[str]) -> Any:
    try:
        return create(plugin, setup, *methods)
    except TradeFsmError as exc:
        if exc.message.startswith(f"{plugin.kind} plugin {plugin.name!r}"):
            raise
        raise replace_message(exc, f"{plugin.kind} plugin {plugin.name!r}: {exc.message}") from exc


def _named(plugin: Plugin, call: Callable[[], T], state: str) -> T:
    """``call``'s result; its error names ``plugin`` (tradefsm's own keep their family), and
    a step timeout while it runs says it did not return."""
    try:
        with running(plugin.title):
            return call()
    except StepTimeout:
        raise  # the timeout already names the plugin it interrupted
    except TradeFsmError as exc:
        raise replace_message(exc, f"{plugin.kind} plugin {plugin.name!r}: {exc.message}") from exc
    except KeyboardInterrupt as exc:
        if not raised_by_code():
            raise  # a person's Ctrl-C
        raise failure(plugin, "raised KeyboardInterrupt", state=state) from exc
    except (Exception, SystemExit) as exc:  # the plugin's own error (exit too), typed and named
        raise failure(plugin, f"raised {type(exc).__name__}: {exc}", state=state) from exc


def _valid(plugin: Plugin, model: type[M], made: object, state: str) -> M:
    try:
        return validate_output(model, made, state=state)
    except InvalidStepOutput as exc:
        raise failure(plugin, f"returned malformed output: {exc.message}", state=state) from exc


def _options(settings: Settings, name: str) -> dict[str, Any]:
    return dict(settings.plugin_options.get(name, {}))


def _check_option_tables(tables: Mapping[str, object]) -> None:
    """A table of options must name an installed plugin: a misspelt one would be ignored."""
    names = {p.name for group in GROUPS for p in installed(group)}
    for name in sorted(set(tables) - names):
        raise PluginNotFound(
            f"options for {name!r} name no installed plugin (installed: "
            f"{', '.join(sorted(names))}; see `tradefsm plugins`)",
            group="options", plugin=name,
        )  # fmt: skip
