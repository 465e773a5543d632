"""Several strategies with weights, from a TOML portfolio file, as one strategy plugin.

The file is a list of ``[[strategies]]`` tables, each with a ``name`` (a strategy plugin),
a ``weight`` and optionally its ``options`` (docs/plugins.md has an example).

Each strategy's targets are scaled by its weight and summed per symbol; the signal
checkpoint keeps each one's share (``SignalSet.contributions``). Weights sum to at most 1:
the rest stays in cash.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fsm.adapters.market_data import file_sha256
from fsm.canonical import canonical_json
from fsm.errors import InvalidConfiguration, InvalidInput, replace_message
from fsm.pluginports import PluggedStrategy
from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.plugins import PluginSetup
from fsm.ports import MarketData, RunContext

WEIGHT_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Member:
    weight: Decimal
    strategy: PluggedStrategy


class Portfolio:
    """The strategies of a portfolio file, combined into one target."""

    name = "portfolio"

    def __init__(self, path: Path, members: list[Member]) -> None:
        self.members = members
        # Committed with each run (fsm.pluginports): the file and what it chose.
        chosen = [m.strategy.identity | {"weight": str(m.weight)} for m in members]
        self.source = {"path": str(path.resolve()), "sha256": file_sha256(path),
                       "strategies": canonical_json(chosen)}  # fmt: skip

    def generate(self, ctx: RunContext) -> SignalSet:
        shares = {
            m.strategy.plugin.name: {
                t.symbol: (m.weight * t.weight).quantize(WEIGHT_PLACES)
                for t in m.strategy.generate(ctx).targets
            }
            for m in self.members
        }
        combined: dict[str, Decimal] = {}
        for share in shares.values():
            for symbol, weight in share.items():
                combined[symbol] = combined.get(symbol, Decimal(0)) + weight
        targets = tuple(TargetWeight(symbol=s, weight=w) for s, w in sorted(combined.items()))
        return SignalSet(as_of=ctx.as_of, strategy=self.name, targets=targets, contributions=shares)


def portfolio(setup: PluginSetup) -> Portfolio:
    """The entry point's factory: option ``file``, the portfolio file."""
    file = setup.accept("file").get("file")
    if not isinstance(file, str) or not file:
        raise InvalidConfiguration("the portfolio needs a file: file under [portfolio]")
    path = Path(file)
    entries = _entries(path)
    market = setup.market_data
    if market is None:
        raise InvalidConfiguration("the portfolio needs the market data its strategies read")
    members = [_member(setup, market, path, entry) for entry in entries]
    if sum(m.weight for m in members) > 1:
        raise InvalidConfiguration(f"{path}: the weights sum to more than 1")
    return Portfolio(path, members)


def _entries(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            entries = tomllib.load(handle).get("strategies")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidConfiguration(f"cannot read portfolio file {path}: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise InvalidConfiguration(f"{path}: no [[strategies]] (name, weight, options)")
    names = [e.get("name") for e in entries if isinstance(e, dict)]
    if len(names) != len(entries) or len(set(names)) != len(names) or "portfolio" in names:
        raise InvalidConfiguration(
            f"{path}: each [[strategies]] names a different strategy, other than a portfolio"
        )
    return entries


def _member(setup: PluginSetup, market: MarketData, path: Path, entry: dict[str, Any]) -> Member:
    name, options, weight = entry.get("name"), entry.get("options", {}), _weight(entry)
    if not isinstance(name, str) or not isinstance(options, dict) or not 0 < weight <= 1:
        raise InvalidConfiguration(
            f"{path}: strategy {name!r} needs a weight above 0 and at most 1, options a table"
        )
    try:
        strategy = PluggedStrategy.build(
            setup.settings, market, setup.as_of, name, options, setup.exchange
        )
    except InvalidInput as exc:  # an unknown name, bad options: said of this file
        raise replace_message(exc, f"{path}: {exc.message}") from exc
    return Member(weight, strategy)


def _weight(entry: dict[str, Any]) -> Decimal:
    """The entry's weight, or -1 (refused) when it is no finite number (NaN compares with
    nothing)."""
    try:
        weight = Decimal(str(entry.get("weight")))
    except InvalidOperation:
        return Decimal(-1)
    return weight if weight.is_finite() else Decimal(-1)
