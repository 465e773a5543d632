"""Run id prefixes: anything shorter than the minimum is refused, whatever runs exist; any
longer prefix of one id names it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm.errors import InvalidInput
from fsm.runids import MIN_PREFIX, RUN_ID_PREFIX, resolve_run_id

HEX = st.text("0123456789abcdef", min_size=32, max_size=32)


def _lookup(ids: list[str]) -> Callable[[str, int], list[str]]:
    return lambda prefix, limit: sorted(i for i in ids if i.startswith(prefix))[:limit]


@given(st.lists(HEX, min_size=1, max_size=5), st.text(max_size=MIN_PREFIX - 1), st.booleans())
def test_a_prefix_under_the_minimum_is_refused(hexes: list[str], short: str, marked: bool) -> None:
    text = RUN_ID_PREFIX + short if marked else short
    with pytest.raises(InvalidInput, match=f"at least {MIN_PREFIX} characters"):
        resolve_run_id(_lookup([RUN_ID_PREFIX + h for h in hexes]), text)


@given(HEX, st.integers(min_value=MIN_PREFIX, max_value=32), st.booleans())
def test_any_long_enough_prefix_of_the_only_run_names_it(hex_id: str, n: int, marked: bool) -> None:
    run_id = RUN_ID_PREFIX + hex_id
    text = (RUN_ID_PREFIX if marked else "") + hex_id[:n]
    assert resolve_run_id(_lookup([run_id]), text) == run_id


@given(HEX, st.integers(min_value=MIN_PREFIX, max_value=32), st.booleans())
def test_a_prefix_in_capitals_names_the_same_run(hex_id: str, n: int, marked: bool) -> None:
    run_id = RUN_ID_PREFIX + hex_id
    text = (RUN_ID_PREFIX + hex_id[:n] if marked else hex_id[:n]).upper()
    assert resolve_run_id(_lookup([run_id]), text) == run_id
