"""Current vs target allocation (pure)."""

from __future__ import annotations

from decimal import Decimal

from fsm.pluginrecords import AccountSnapshot, PriceSnapshot, SignalSet
from fsm.records import AllocationAnalysis

WEIGHT_PLACES = Decimal("0.000001")


def analyse(
    signals: SignalSet, account: AccountSnapshot, prices: PriceSnapshot, drift_threshold: Decimal
) -> AllocationAnalysis:
    positions = {p.symbol: p.qty for p in account.positions if p.qty != 0}
    values = {s: q * prices.prices[s] for s, q in positions.items()}
    portfolio_value = account.cash + sum(values.values(), Decimal(0))
    targets = {t.symbol: t.weight for t in signals.targets}
    current = {
        s: (v / portfolio_value).quantize(WEIGHT_PLACES) if portfolio_value else Decimal(0)
        for s, v in values.items()
    }
    symbols = sorted(set(targets) | set(current))
    drift = max(
        (abs(targets.get(s, Decimal(0)) - current.get(s, Decimal(0))) for s in symbols),
        default=Decimal(0),
    )
    return AllocationAnalysis(
        as_of=prices.as_of,
        portfolio_value=portfolio_value,
        cash=account.cash,
        buying_power=account.buying_power,
        prices={s: prices.prices[s] for s in symbols},
        positions=positions,
        current_weights=current,
        target_weights=targets,
        max_drift=drift,
        drift_threshold=drift_threshold,
        rebalance_needed=drift > drift_threshold,
        price_dates={s: prices.dates.get(s, prices.as_of) for s in symbols},
        previous_prices={s: prices.previous[s] for s in symbols if s in prices.previous},
        market_data=prices.source,
    )
