"""The verifier's one-call text of a stored scalar is the canonical text the digests are defined
by (``json_text(text_of(value))``), for every kind of value a record holds."""

from __future__ import annotations

from datetime import UTC
from enum import StrEnum

from hypothesis import given
from hypothesis import strategies as st

from fsm.canonical import json_text
from fsm.commitments import scalar_json, text_of


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


SCALARS = st.one_of(
    st.none(),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.sampled_from(Side),
)


@given(SCALARS)
def test_one_call_gives_the_canonical_text(value: object) -> None:
    assert scalar_json(value) == json_text(text_of(value))
