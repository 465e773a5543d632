"""What a strategy, market data or broker plugin returns or receives (the ports'
records): frozen, versioned models; money and quantities are Decimal, never float.

The engine's own records (step outputs it derives, the ledger, runs, intents) are in
``fsm.records``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class Frozen(BaseModel):
    """A record that crosses a port: immutable, unknown fields refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Side(StrEnum):
    """What a plan item or an order does with a symbol (HOLD: nothing, the trade suppressed)."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


# ---- what a strategy and market data return -------------------------------------------


class TargetWeight(Frozen):
    """One symbol's share of the account a strategy wants, in [0, 1] (the guards check it)."""

    symbol: str
    weight: Decimal


def without_none(dumped: dict[str, Any], field: str) -> dict[str, Any]:
    """A dump without ``field`` when it is None: checkpoints of runs that had none of it hash
    as they did before the field existed."""
    if dumped.get(field) is None:
        dumped.pop(field, None)
    return dumped


class SignalSet(Frozen):
    """Consolidated strategy output: one target weight per symbol, the weights summing to at
    most 1, for the market date ``as_of``; ``strategy`` names what produced it."""

    schema_version: Literal[1] = 1
    as_of: date
    strategy: str
    targets: tuple[TargetWeight, ...]
    contributions: dict[str, dict[str, Decimal]] | None = None
    """A portfolio's: each strategy's share of the targets (its weight times its own target),
    by strategy name then symbol; absent for a single strategy."""

    @model_serializer(mode="wrap")
    def _without_absent_contributions(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return without_none(dump(self), "contributions")


class PriceSnapshot(Frozen):
    """Market data's answer: each symbol's last price on or before ``as_of``, never after."""

    schema_version: Literal[1] = 1
    as_of: date
    prices: dict[str, Decimal]
    dates: dict[str, date] = {}
    """Each price's own date (absent: ``as_of``)."""
    previous: dict[str, Decimal] = {}
    """The close before it in the same data, where known."""
    source: dict[str, str] | None = None
    """Where the prices came from: set by tradefsm from the plugin (``fsm.pluginports``)."""


class Position(Frozen):
    """A holding at the broker: ``qty`` shares (fractional allowed) of ``symbol``."""

    symbol: str
    qty: Decimal


class AccountSnapshot(Frozen):
    """A broker's ``account()``: cash, buying power and positions, as of the call."""

    schema_version: Literal[1] = 1
    account_id: str
    cash: Decimal
    buying_power: Decimal
    positions: tuple[Position, ...] = ()


# ---- what a broker receives and returns -------------------------------------------------


class OrderIntent(Frozen):
    """An order the engine means to place; committed before the broker is called."""

    client_order_id: str = Field(max_length=48)
    symbol: str
    side: Side
    qty: Decimal
    reference_price: Decimal


class OrderAck(Frozen):
    """The broker's answer to a submitted order: its id and status and, for an order that
    filled (in part) at once, the quantity filled and its average price (None: not said)."""

    client_order_id: str
    broker_order_id: str
    status: str
    filled_qty: Decimal | None = None
    avg_price: Decimal | None = None


TERMINAL = frozenset({"filled", "partially_filled", "rejected", "canceled", "expired"})
"""Order statuses that no longer change (every other one is still open at the broker)."""


class OrderStatus(Frozen):
    """An order as the broker knows it (``orders``, ``cancel``): filled, partly filled,
    rejected, canceled and expired are terminal; ``new`` is still open."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    status: Literal["new", "filled", "partially_filled", "rejected", "canceled", "expired"]

    @property
    def succeeded(self) -> bool:
        """Filled, in whole or in part."""
        return self.status in ("filled", "partially_filled")
