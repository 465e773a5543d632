"""Properties: the per-transition write path stores exactly what SQLAlchemy Core would.

The hot path writes timestamps and JSON documents through one function each, and writes the
guards, commits and step output as the text the ledger hashed; these must be the same bytes
Core's type processors produce, or `audit verify` and readers would see other values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from fsm.canonical import canonical_json
from fsm.ledger import guard_text, sealed
from fsm.records import GuardDecision
from persistence.hotpath import JsonText, processor
from persistence.types import JsonDocument, UtcDateTime

SQLITE = sqlite.dialect()  # type: ignore[no-untyped-call]
POSTGRES = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
text = st.text(max_size=12)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=offsets | st.just(UTC)
)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
decisions = st.builds(
    GuardDecision,
    name=text,
    passed=st.booleans(),
    reason=text,
    inputs=st.dictionaries(text, text, max_size=4),
)


def _core(type_: Any, dialect: Any, value: Any) -> Any:
    """What Core hands the driver: the type's bind processor (with its impl's, if any)."""
    bind = type_.dialect_impl(dialect).bind_processor(dialect)
    return bind(value) if bind else value


@given(aware)
def test_a_timestamp_is_stored_as_core_stores_it(moment: datetime) -> None:
    for dialect in (SQLITE, POSTGRES):
        assert processor(UtcDateTime(), dialect)(moment) == _core(UtcDateTime(), dialect, moment)  # type: ignore[misc]


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES], ids=["sqlite", "postgresql"])
def test_a_naive_timestamp_is_refused_as_core_refuses_it(dialect: Any) -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        _core(UtcDateTime(), dialect, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        processor(UtcDateTime(), dialect)(naive)  # type: ignore[misc]


@given(documents)
def test_a_json_document_is_stored_in_canonical_form_or_as_the_text_given(doc: Any) -> None:
    bind = processor(JsonDocument, SQLITE)
    assert bind is not None
    expected = None if doc is None else canonical_json(doc)
    assert bind(doc) == expected
    if doc is not None:
        assert bind(JsonText(canonical_json(doc))) == expected  # not encoded a second time


@given(documents.filter(lambda d: d is not None))
def test_postgresql_gets_the_same_document_either_way(doc: Any) -> None:
    bind = processor(JsonDocument, POSTGRES)
    assert bind is not None
    given_text, encoded = bind(JsonText(canonical_json(doc))), bind(doc)
    assert given_text.dumps(given_text.obj) == canonical_json(encoded.obj)


@given(decisions)
def test_a_guard_decision_is_written_out_as_its_canonical_json(decision: GuardDecision) -> None:
    assert guard_text(decision) == canonical_json(decision.model_dump(mode="json"))


@given(st.lists(decisions, max_size=4), st.dictionaries(text, text, max_size=3))
def test_sealing_hands_out_the_texts_it_hashed(
    guards: list[GuardDecision], commits: dict[str, str]
) -> None:
    entry, guards_text, commits_text = sealed(
        "0" * 64, run_id="r", seq=2, event="e", source="a", target="b", accepted=True,
        guards=tuple(guards), actor="t", correlation_id="c", causation_id=None,
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC), commits=commits,
    )  # fmt: skip
    assert guards_text == canonical_json([g.model_dump(mode="json") for g in entry.guards])
    assert commits_text == canonical_json(entry.commits)
