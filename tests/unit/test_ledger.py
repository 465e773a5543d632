"""The hash chain finds the first edited, deleted, inserted or reordered row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fsm.ledger import GENESIS_HASH, first_broken_seq, seal
from fsm.records import LedgerEntry

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def _chain(events: list[str]) -> list[LedgerEntry]:
    rows: list[LedgerEntry] = []
    for seq, event in enumerate(events, start=1):
        rows.append(
            seal(rows[-1].hash if rows else GENESIS_HASH, run_id="r", seq=seq, event=event,
                 source="a", target="b", accepted=True, actor="engine", correlation_id="c",
                 causation_id=None, occurred_at=T0 + timedelta(seconds=seq))
        )  # fmt: skip
    return rows


events = st.lists(
    st.sampled_from(["start", "fail", "plan_empty", "cancel"]), min_size=2, max_size=12
)


@given(events, st.data())
def test_an_edited_row_is_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    assert first_broken_seq(rows) is None
    n = data.draw(st.integers(0, len(rows) - 1))
    rows[n] = rows[n].model_copy(update={"actor": "mallory"})
    assert first_broken_seq(rows) == n + 1


@given(events, st.data())
def test_a_deleted_row_is_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    n = data.draw(st.integers(0, len(rows) - 2))
    del rows[n]
    assert first_broken_seq(rows) == n + 1  # the seq of the deleted row


@given(events, st.data())
def test_swapped_rows_are_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    n = data.draw(st.integers(0, len(rows) - 2))
    rows[n], rows[n + 1] = rows[n + 1], rows[n]
    assert first_broken_seq(rows) == n + 1  # the first position out of order


def test_a_rehashed_forgery_breaks_the_next_link() -> None:
    rows = _chain(["start", "plan_empty", "fail"])
    forged = seal(
        rows[0].hash, **rows[1].model_dump(exclude={"hash", "prev_hash"}) | {"actor": "x"}
    )
    assert first_broken_seq([rows[0], forged, rows[2]]) == 3


@given(events)
def test_stored_canonical_guards_text_hashes_like_the_decisions(names: list[str]) -> None:
    from fsm.definition import canonical_json
    from fsm.ledger import canonical_text
    from fsm.records import GuardDecision

    guards = (GuardDecision(name="max_orders", passed=False, reason="3 > 2, ünïcode",
                            inputs={"orders": "3", "limit": "2"}),)  # fmt: skip
    for row in _chain(names):
        for extra in (
            {"error_message": 'quote " ,"occurred_at":'},
            {"source": None, "target": None},
        ):
            values = row.model_dump() | {"guards": guards} | extra
            stored = values | {
                "guards": canonical_json([g.model_dump(mode="json") for g in guards])
            }
            assert canonical_text(stored) == canonical_text(values)
