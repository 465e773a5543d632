"""The risk policy: every limit and threshold the guards apply, as data.

A ``RiskPolicy`` is frozen; each key is one line declaring its type, default, meaning and
``Direction`` (which way is looser), so a change can be classified as loosening or tightening
and two values combined into the stricter one. The policy in force lives in the run
database's hash-chained history (``fsm.policyhistory``); settings may only tighten it
(``fsm.limits``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from fsm.calendar import DEFAULT_EXCHANGE
from fsm.errors import InvalidInput


class Direction(Enum):
    """Which way a key loosens; ``stricter`` of two values, ``looser`` whether new loosens old."""

    LOWER = "a higher value loosens; unset means unlimited"
    HIGHER = "a lower value loosens"
    REQUIRED = "false loosens"
    FORBIDDEN = "true loosens"
    FEWER = "more entries loosen; empty allows every one"
    MORE = "fewer entries loosen"
    SAME = "any other value loosens; a setting may not change it"

    def stricter(self, a: Any, b: Any) -> Any:
        return a if a == b else _STRICTER[self.name](a, b)

    def looser(self, old: Any, new: Any) -> bool:
        """Whether ``new`` lets through something ``old`` refused."""
        return bool(self.stricter(old, new) != new)


NOTHING = ("(NONE)",)  # an allow-list no symbol is on (an empty one allows every symbol)
_STRICTER: dict[str, Callable[[Any, Any], Any]] = {
    "LOWER": lambda a, b: b if a is None else a if b is None else min(a, b),
    "HIGHER": max,
    "REQUIRED": lambda a, b: a or b,
    "FORBIDDEN": lambda a, b: a and b,
    # Two lists with no entry in common allow nothing: NOTHING matches no symbol.
    "FEWER": lambda a, b: b if not a else a if not b else tuple(x for x in a if x in b) or NOTHING,
    "MORE": lambda a, b: tuple(sorted({*a, *b})),
    "SAME": lambda a, b: a,  # no value is stricter than another: the first one stands
}


def limit(default: Any, direction: Direction, meaning: str, **constraints: Any) -> Any:
    """One policy key: its default, which way loosens, what it means, its bounds."""
    return Field(default, description=meaning, json_schema_extra={"direction": direction.name},
                 **constraints)  # fmt: skip


LOWER, HIGHER, REQUIRED, FORBIDDEN = Direction.LOWER, Direction.HIGHER, Direction.REQUIRED, \
    Direction.FORBIDDEN  # fmt: skip
Symbols = tuple[str, ...]


class RiskPolicy(BaseModel):
    """Every limit the guards apply; one line per key. Values are checked as they are set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_orders: int = limit(50, LOWER, "orders in one plan", ge=1)
    max_order_notional: Decimal = limit(Decimal(1_000_000), LOWER, "dollars in one order", gt=0)
    max_total_notional: Decimal = limit(Decimal(5_000_000), LOWER, "dollars in one plan", gt=0)
    max_order_qty: Decimal = limit(Decimal(1_000_000), LOWER, "shares in one order", gt=0)
    allowed_symbols: Symbols = limit((), Direction.FEWER, "symbols a plan may trade")
    max_price_age_days: int = limit(3, LOWER, "trading days a price may be older than as_of", ge=0)
    min_price: Decimal = limit(Decimal("0.01"), HIGHER, "a lower price is refused as absurd", gt=0)
    max_price: Decimal = limit(Decimal(1_000_000), LOWER, "a higher price is refused", gt=0)
    max_price_move: Decimal = limit(Decimal("0.5"), LOWER, "largest move from the close before "
                                    "(0.5 = 50%)", gt=0)  # fmt: skip
    stale_after_days: int = limit(5, LOWER, "days a run's as_of may be old at start", ge=0)
    approval_notional: Decimal | None = limit(None, LOWER, "a plan above this many dollars "
                                              "waits for a second person", gt=0)  # fmt: skip
    approval_modes: Symbols = limit(("live", "paper"), Direction.MORE, "modes whose plans above "
                                    "approval_notional wait for approval")  # fmt: skip
    approval_timeout_seconds: float | None = limit(None, LOWER, "seconds a plan may wait for "
                                                   "approval before the run fails", gt=0,
                                                   le=30 * 86_400)  # fmt: skip
    require_signed_approvals: bool = limit(False, REQUIRED, "every approval signed with a "
                                           "registered key (live mode: always)")  # fmt: skip
    allow_partial_success: bool = limit(False, FORBIDDEN, "a partly executed plan counts as "
                                        "success")  # fmt: skip
    daily_max_notional: Decimal | None = limit(None, LOWER, "dollars an account may send per "
                                               "trading day", gt=0)  # fmt: skip
    daily_max_orders: int | None = limit(None, LOWER, "orders an account may send per trading "
                                         "day", ge=1)  # fmt: skip
    halt_after_failures: int | None = limit(None, LOWER, "failed executions or broker "
                                            "rejections of an account within the window that "
                                            "halt it (the throttle)", ge=1)  # fmt: skip
    halt_failure_window_seconds: float = limit(3600.0, HIGHER, "seconds the throttle counts "
                                               "failures in", gt=0, le=30 * 86_400)  # fmt: skip
    unhalt_needs_second_person: bool = limit(True, REQUIRED, "whoever halted a scope may not "
                                             "lift the halt")  # fmt: skip
    exchange: str = limit(DEFAULT_EXCHANGE, Direction.SAME, "exchange whose calendar runs trade "
                          "on (an exchange-calendars code: XNYS, XLON, XTKS)",
                          pattern=r"^[A-Za-z0-9_/]{2,16}$")  # fmt: skip

    @field_validator("allowed_symbols", "approval_modes")
    @classmethod
    def _a_set(cls, value: Symbols, info: ValidationInfo) -> Symbols:
        cased = (s.upper() if info.field_name == "allowed_symbols" else s.lower() for s in value)
        return tuple(sorted(set(cased)))


KEYS: dict[str, Direction] = {
    name: Direction[str(field.json_schema_extra["direction"])]  # type: ignore[index]
    for name, field in RiskPolicy.model_fields.items()
}
DEFAULT = RiskPolicy()


def direction(key: str) -> Direction:
    try:
        return KEYS[key]
    except KeyError:
        raise InvalidInput(f"unknown policy key {key!r}: keys are {', '.join(KEYS)}") from None


def to_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Policy values as stored and hashed: Decimals as text, tuples as lists."""
    return RiskPolicy.model_validate(DEFAULT.model_dump() | dict(values)).model_dump(
        mode="json", include=set(values)
    )


def with_values(base: RiskPolicy, values: Mapping[str, Any]) -> RiskPolicy:
    """``base`` with ``values`` set; InvalidInput (one line) naming a key or value refused."""
    for key in values:
        direction(key)
    try:
        return RiskPolicy.model_validate(base.model_dump() | dict(values))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"policy {where}={values.get(where)!r}: {first['msg']}") from None


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` words as policy values (an empty value unsets a key that may be unset;
    a list is comma-separated); InvalidInput for a word without ``=`` or an unknown key."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise InvalidInput(f"{pair!r} is not KEY=VALUE (e.g. max_orders=20)")
        if direction(key) in (Direction.FEWER, Direction.MORE):
            values[key] = tuple(s.strip() for s in text.split(",") if s.strip())
        else:
            values[key] = text.strip() or None
    return values


def loosened(old: RiskPolicy, new: RiskPolicy) -> list[str]:
    """The keys whose new value loosens the old one."""
    return [k for k, d in KEYS.items() if d.looser(getattr(old, k), getattr(new, k))]


def stricter(a: RiskPolicy, b: RiskPolicy) -> RiskPolicy:
    """Per key, the stricter of the two values."""
    return RiskPolicy.model_validate(
        {k: d.stricter(getattr(a, k), getattr(b, k)) for k, d in KEYS.items()}
    )
