"""The hash chain names edited rows and the first deleted, inserted or reordered one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fsm.integrity import chain_findings
from fsm.ledger import GENESIS_HASH, seal
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


def _found(rows: list[LedgerEntry]) -> list[tuple[str, int | None]]:
    return [(f.kind, f.seq) for f in chain_findings("r", [r.model_dump() for r in rows])]


events = st.lists(
    st.sampled_from(["start", "fail", "plan_empty", "cancel"]), min_size=2, max_size=12
)


@given(events, st.data())
def test_an_edited_row_is_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    assert _found(rows) == []
    n = data.draw(st.integers(0, len(rows) - 1))
    rows[n] = rows[n].model_copy(update={"actor": "mallory"})
    assert _found(rows) == [("edited", n + 1)]


@given(events, st.data())
def test_a_deleted_row_is_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    n = data.draw(st.integers(0, len(rows) - 2))
    del rows[n]
    assert _found(rows) == [("deleted", n + 1)]  # the seq of the deleted row


@given(events, st.data())
def test_swapped_rows_are_found(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    n = data.draw(st.integers(0, len(rows) - 2))
    rows[n], rows[n + 1] = rows[n + 1], rows[n]
    assert _found(rows)[0][1] == n + 1  # the first position out of order


def test_a_rehashed_forgery_breaks_the_next_link() -> None:
    rows = _chain(["start", "plan_empty", "fail"])
    forged = seal(
        rows[0].hash, **rows[1].model_dump(exclude={"hash", "prev_hash"}) | {"actor": "x"}
    )
    assert _found([rows[0], forged, rows[2]]) == [("edited", 2)]


@given(events, st.data())
def test_several_edits_are_each_named(names: list[str], data: st.DataObject) -> None:
    rows = _chain(names)
    picked = sorted(data.draw(st.sets(st.integers(0, len(rows) - 1), min_size=1)))
    for n in picked:
        rows[n] = rows[n].model_copy(update={"error_message": "rewritten"})
    assert _found(rows) == [("edited", n + 1) for n in picked]


@given(events)
def test_stored_canonical_guards_text_hashes_like_the_decisions(names: list[str]) -> None:
    from fsm.canonical import canonical_json
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


@given(events)
def test_the_fast_canonical_forms_match_the_documented_field_lists(names: list[str]) -> None:
    """``canonical_text`` and ``identity_digest`` write JSON by hand for speed; they must
    equal canonical JSON of exactly the fields the documentation lists."""
    from datetime import date

    from fsm.canonical import canonical_json, sha256_hex
    from fsm.commitments import IDENTITY_FIELDS, identity_digest
    from fsm.ledger import HASHED_FIELDS, canonical_text

    for row in _chain(names):
        values = row.model_dump(mode="json")
        values["commits"] = {"checkpoint": "ab" * 32}
        body = {name: values[name] for name in HASHED_FIELDS}
        body["occurred_at"] = row.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert canonical_text(values | {"occurred_at": body["occurred_at"]}) == canonical_json(body)
    identity = {
        "account_id": "a", "as_of": date(2026, 11, 27), "correlation_id": "c",
        "created_at": T0, "definition_hash": "d", "idempotency_key": None, "mode": "paper",
        "params": {"k": "v"}, "parent_run_id": None, "run_id": "r",
    }  # fmt: skip
    documented = {name: identity[name] for name in IDENTITY_FIELDS} | {
        "as_of": "2026-11-27", "created_at": "2026-11-27T00:00:00.000000Z"}  # fmt: skip
    assert identity_digest(identity) == sha256_hex(canonical_json(documented))


@given(st.text(), st.one_of(st.none(), st.text()), st.integers(0, 10**6))
def test_the_fast_intent_event_form_matches_the_documented_field_lists(
    text: str, broker_order_id: str | None, position: int
) -> None:
    """``intent_event_hash`` writes JSON by hand for speed; it must equal canonical JSON of
    the intent's fields and the event's, as the documentation lists them."""
    import hashlib
    from decimal import Decimal

    from fsm.canonical import canonical_json
    from fsm.commitments import EVENT_FIELDS, INTENT_FIELDS, intent_event_hash

    intent = {"client_order_id": text, "position": position, "symbol": f'S"{text}',
              "side": "BUY", "qty": Decimal("1.5"), "reference_price": Decimal("1E+2"),
              "run_id": f"r\n{text}"}  # fmt: skip
    event = {"n": 2, "status": text, "broker_order_id": broker_order_id,
             "filled_qty": Decimal("1.5"), "avg_price": None, "recorded_at": T0}  # fmt: skip
    written = {"qty": "1.5", "reference_price": "1E+2", "filled_qty": "1.5",
               "recorded_at": "2026-11-27T00:00:00.000000Z"}  # fmt: skip
    documented = {name: intent[name] for name in INTENT_FIELDS}
    documented |= {name: event[name] for name in EVENT_FIELDS} | written
    expected = hashlib.sha256(f"p\n{canonical_json(documented)}".encode()).hexdigest()
    assert intent_event_hash("p", intent, event) == expected


@given(st.lists(st.tuples(st.text(), st.integers(0, 10**6), st.text()), max_size=4))
def test_the_fast_intents_form_matches_the_documented_list(
    heads: list[tuple[str, int, str]],
) -> None:
    """``intents_digest`` writes JSON by hand for speed (an empty set included); it must equal
    canonical JSON of the list of ``[client_order_id, n, hash]``."""
    from fsm.canonical import canonical_json, sha256_hex
    from fsm.commitments import intents_digest

    documented = canonical_json([[coid, n, head] for coid, n, head in heads])
    assert intents_digest(heads) == sha256_hex(documented)
