"""The demo strategy: equal weights over the strongest symbols by 20-day momentum."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from fsm.errors import MissingMarketData
from fsm.pluginrecords import SignalSet, TargetWeight
from fsm.ports import RunContext

LOOKBACK = timedelta(days=20)


class PriceHistory(Protocol):
    def universe(self) -> tuple[str, ...]: ...

    def price(self, symbol: str, day: date) -> Decimal: ...


class MomentumStrategy:
    name = "demo-momentum"

    def __init__(self, history: PriceHistory, picks: int = 8) -> None:
        self.history = history
        self.picks = picks

    def generate(self, ctx: RunContext) -> SignalSet:
        scores = {s: self._momentum(s, ctx) for s in self.history.universe()}
        ranked = sorted(scores, key=lambda s: (-scores[s], s))[: self.picks]
        weight = (Decimal(1) / len(ranked)).quantize(Decimal("0.000001")) if ranked else Decimal(0)
        return SignalSet(
            as_of=ctx.as_of,
            strategy=self.name,
            targets=tuple(TargetWeight(symbol=s, weight=weight) for s in sorted(ranked)),
        )

    def _momentum(self, symbol: str, ctx: RunContext) -> Decimal:
        now = self.history.price(symbol, ctx.as_of)
        try:
            before = self.history.price(symbol, ctx.as_of - LOOKBACK)
        except MissingMarketData:
            return Decimal(0)  # too little history: neutral score
        return now / before - 1
