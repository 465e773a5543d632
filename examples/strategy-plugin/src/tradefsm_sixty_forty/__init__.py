"""A fixed-weight strategy: the same target weights every day (``SPY`` 0.6, ``BND`` 0.4 unless
the ``[sixty-forty]`` table of tradefsm.toml gives ``weights``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.plugins import PluginSetup
from fsm.ports import RunContext

DEFAULT_WEIGHTS = {"SPY": "0.6", "BND": "0.4"}


class FixedWeights:
    """The same targets for every market date: deterministic, reads no data."""

    name = "sixty-forty"

    def __init__(self, weights: Mapping[str, str]) -> None:
        self.weights = {symbol: Decimal(str(w)) for symbol, w in sorted(weights.items())}
        if sum(self.weights.values()) > 1 or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be non-negative and sum to at most 1: {weights}")

    def generate(self, ctx: RunContext) -> SignalSet:
        targets = tuple(TargetWeight(symbol=s, weight=w) for s, w in self.weights.items())
        return SignalSet(as_of=ctx.as_of, strategy=self.name, targets=targets)


def strategy(setup: PluginSetup) -> FixedWeights:
    """The entry point's factory: tradefsm calls it with the settings and this plugin's options."""
    return FixedWeights(setup.options.get("weights", DEFAULT_WEIGHTS))
