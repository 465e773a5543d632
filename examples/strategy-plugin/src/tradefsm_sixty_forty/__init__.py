"""A fixed-weight strategy: the same target weights every day (``SPY`` 0.6, ``BND`` 0.4 unless
the ``[sixty-forty]`` table of tradefsm.toml gives ``weights``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from fsm.errors import InvalidConfiguration
from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.plugins import PluginSetup
from fsm.ports import RunContext

DEFAULT_WEIGHTS = {"SPY": "0.6", "BND": "0.4"}


class FixedWeights:
    """The same targets for every market date: deterministic, reads no data."""

    name = "sixty-forty"

    def __init__(self, weights: object) -> None:
        self.weights = _weights(weights)

    def generate(self, ctx: RunContext) -> SignalSet:
        targets = tuple(TargetWeight(symbol=s, weight=w) for s, w in self.weights.items())
        return SignalSet(as_of=ctx.as_of, strategy=self.name, targets=targets)


def _weights(given: object) -> dict[str, Decimal]:
    """Options a person wrote are refused with InvalidConfiguration: tradefsm then says so in
    one line before any run (exit 2), naming this plugin; any other error would be a crash."""
    if not isinstance(given, Mapping):
        raise InvalidConfiguration(f"weights must be a table of symbol = weight, not {given!r}")
    try:
        weights = {str(symbol): Decimal(str(w)) for symbol, w in sorted(given.items())}
    except InvalidOperation:
        raise InvalidConfiguration(f"weights must be numbers: {dict(given)}") from None
    if not all(w.is_finite() and w >= 0 for w in weights.values()) or sum(weights.values()) > 1:
        said = f"weights must be non-negative and sum to at most 1: {dict(given)}"
        raise InvalidConfiguration(said)
    return weights


def strategy(setup: PluginSetup) -> FixedWeights:
    """The entry point's factory: tradefsm calls it with the settings and this plugin's options."""
    return FixedWeights(setup.accept("weights").get("weights", DEFAULT_WEIGHTS))
