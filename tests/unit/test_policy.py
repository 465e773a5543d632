"""The risk policy's keys: which way each loosens, the stricter of two values, and the one-line
errors of a bad KEY=VALUE."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fsm.errors import InvalidInput
from fsm.policy import DEFAULT, NOTHING, loosened, parse_assignments, stricter, with_values


@pytest.mark.parametrize(
    ("key", "old", "new", "loosens"),
    [
        ("max_orders", 10, 20, True),
        ("max_orders", 20, 10, False),
        ("approval_notional", Decimal(1000), None, True),  # unset: no plan waits
        ("approval_notional", None, Decimal(1000), False),
        ("min_price", Decimal(1), Decimal("0.5"), True),
        ("allowed_symbols", ("SPY",), (), True),  # empty: every symbol
        ("allowed_symbols", (), ("SPY",), False),
        ("approval_modes", ("live", "paper"), ("live",), True),
        ("require_signed_approvals", True, False, True),
        ("allow_partial_success", False, True, True),
        ("daily_max_notional", None, Decimal(5), False),
        ("exchange", "XNYS", "XLON", True),  # other hours: every change of exchange loosens
        ("exchange", "XLON", "XNYS", True),
    ],
)
def test_a_change_loosens_only_in_its_direction(key: str, old: object, new: object,
                                                loosens: bool) -> None:  # fmt: skip
    before, after = with_values(DEFAULT, {key: old}), with_values(DEFAULT, {key: new})
    assert (loosened(before, after) == [key]) is loosens
    assert getattr(stricter(before, after), key) == getattr(before if loosens else after, key)


def test_lists_with_nothing_in_common_allow_nothing() -> None:
    spy, qqq = with_values(DEFAULT, {"allowed_symbols": ("spy",)}), with_values(
        DEFAULT, {"allowed_symbols": ("QQQ",)})  # fmt: skip
    assert stricter(spy, qqq).allowed_symbols == NOTHING


def test_assignments_are_parsed_and_checked_in_one_line() -> None:
    values = parse_assignments(["max_orders=5", "allowed_symbols=spy, qqq", "approval_notional="])
    assert values == {"max_orders": "5", "allowed_symbols": ("spy", "qqq"),
                      "approval_notional": None}  # fmt: skip
    assert with_values(DEFAULT, values).allowed_symbols == ("QQQ", "SPY")
    with pytest.raises(InvalidInput, match="'max_orders' is not KEY=VALUE"):
        parse_assignments(["max_orders"])
    with pytest.raises(InvalidInput, match="policy max_orders=None: Input should be a valid"):
        with_values(DEFAULT, {"max_orders": None})
    with pytest.raises(InvalidInput, match="policy exchange=' XNYS': String should match"):
        with_values(DEFAULT, {"exchange": " XNYS"})
