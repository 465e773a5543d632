"""Idempotency keys and correlation ids: one model says their limits, the schema agrees, and
whatever the model accepts is stored and found again as it was given."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import InvalidInput
from fsm.pluginrecords import OrderIntent
from fsm.records import RunLabels, run_labels
from fsm.requests import RunRequest
from fsm.settings import ACCOUNT_ID_PATTERN
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import ledger, order_intents, runs
from tests.conftest import TRADING_DAY, make_engine_for

VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
NOT_VISIBLE = st.characters().filter(lambda c: not "!" <= c <= "~")
LIMITS = {"idempotency_key": 200, "correlation_id": 64}
FIELDS = st.sampled_from(sorted(LIMITS))


def _max_length(model: Any, field: str) -> int:
    return next(
        c.max_length for c in model.model_fields[field].metadata if hasattr(c, "max_length")
    )


def test_each_limit_is_the_size_of_its_column() -> None:
    assert _max_length(RunLabels, "idempotency_key") == runs.c.idempotency_key.type.length
    assert _max_length(RunLabels, "correlation_id") == runs.c.correlation_id.type.length
    assert _max_length(RunLabels, "correlation_id") == ledger.c.correlation_id.type.length
    assert (
        _max_length(OrderIntent, "client_order_id") == order_intents.c.client_order_id.type.length
    )
    longest = runs.c.account_id.type.length
    assert re.fullmatch(ACCOUNT_ID_PATTERN, "a" * longest)
    assert not re.fullmatch(ACCOUNT_ID_PATTERN, "a" * (longest + 1))


@given(FIELDS, st.data())
def test_any_value_over_the_limit_is_refused_saying_the_limit(
    field: str, data: st.DataObject
) -> None:
    value = data.draw(st.text(VISIBLE, min_size=LIMITS[field] + 1, max_size=LIMITS[field] + 50))
    with pytest.raises(InvalidInput, match=f"at most {LIMITS[field]}$"):
        run_labels(**{field: value})


@given(FIELDS, st.text(VISIBLE, max_size=30), NOT_VISIBLE, st.text(VISIBLE, max_size=30))
def test_a_space_control_or_non_ascii_character_anywhere_is_refused(
    field: str, before: str, odd: str, after: str
) -> None:
    with pytest.raises(InvalidInput, match=field.replace("_", " ")) as refused:
        run_labels(**{field: before + odd + after})
    assert str(refused.value).isprintable()  # shown escaped: nothing reaches a terminal raw


@pytest.mark.parametrize("field", sorted(LIMITS))
@pytest.mark.parametrize("blank", ["", " ", "  \t "])
def test_an_empty_or_blank_value_is_refused_by_the_library_too(field: str, blank: str) -> None:
    with pytest.raises(InvalidInput, match=field.replace("_", " ")):
        RunRequest(account_id="a", **{field: blank})


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("labels")
    sql = make_engine(f"sqlite:///{folder / 'runs.db'}")
    migrate.upgrade(sql)
    yield make_engine_for(SqlRunStore(sql), PaperBroker(folder / "p.db"), FixedClock(TRADING_DAY))
    sql.dispose()


@settings(max_examples=40, deadline=None)
@given(st.text(VISIBLE, min_size=1, max_size=200), st.text(VISIBLE, min_size=1, max_size=64))
def test_any_valid_key_and_correlation_id_are_stored_and_found_as_given(
    engine: Engine, key: str, correlation_id: str
) -> None:
    queued = engine.submit(RunRequest(account_id="a", idempotency_key=key,
                                      correlation_id=correlation_id))  # fmt: skip
    found = engine.store.find_by_idempotency_key(key)
    assert found is not None
    assert found.run_id == queued.run_id
    assert found.idempotency_key == key
    assert engine.store.ledger(queued.run_id)[0].correlation_id == queued.correlation_id
