"""The halts history is append-only in the database and covered by `audit verify`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, update
from sqlalchemy.exc import DBAPIError

from fsm import halts
from fsm.digests import Anchors
from fsm.halts import throttle_limits
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from fsm.policy import DEFAULT
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.tables import halts as halts_table
from tests.audit.mutations import bypassing
from tests.conftest import TRADING_DAY


def _history(url: str) -> SqlRunStore:
    store = SqlRunStore(make_engine(url))
    halts.halt(store, "acct-a", "ops-ann", "desk says stop", "ops", TRADING_DAY)
    halts.unhalt(store, "acct-a", "risk-bob", "checked", "ops", TRADING_DAY,
                 throttle_limits(DEFAULT))  # fmt: skip
    return store


def test_the_database_refuses_to_change_or_remove_a_halt(migrated_url: str) -> None:
    store = _history(migrated_url)
    for statement in (update(halts_table).values(reason="nothing happened"), delete(halts_table)):
        with pytest.raises(DBAPIError, match="halts is append-only"), store.engine.begin() as conn:
            conn.execute(statement)
    assert [h.reason for h in store.halts()] == ["desk says stop", "checked"]


@pytest.mark.parametrize(
    "edit",
    [update(halts_table).where(halts_table.c.seq == 1).values(actor="ops-cy"),
     delete(halts_table).where(halts_table.c.seq == 1)],
    ids=["edited", "deleted"],
)  # fmt: skip
def test_an_edit_of_the_halts_history_is_a_verify_finding(migrated_url: str, edit: object) -> None:
    store = _history(migrated_url)
    assert SqlAudit(store.engine).verify().ok

    def apply(conn: Connection) -> None:
        conn.execute(edit)  # type: ignore[call-overload]

    bypassing(migrated_url, apply)
    findings = SqlAudit(store.engine).verify().findings
    assert [(f.kind, f.key) for f in findings] in (
        [("halts_changed", "halt 1")],
        [("halts_changed", "halt 2")],
    )  # an edited row is itself named; a deleted one by the row after it


def test_a_removed_tail_of_the_halts_history_is_found_by_the_signed_digests(
    migrated_url: str, tmp_path: Path
) -> None:
    store = _history(migrated_url)  # the unhalt, the last row, is committed by no run
    private, public = generate_keys(tmp_path / "keys")
    audit = SqlAudit(store.engine)
    audit.seal(load_private_key(private), TRADING_DAY, tmp_path / "digests")
    anchors = Anchors(tmp_path / "digests", (load_public_key(public),))
    assert audit.verify(anchors=anchors).ok

    def cut(conn: Connection) -> None:
        conn.execute(delete(halts_table).where(halts_table.c.seq == 2))

    bypassing(migrated_url, cut)
    assert SqlAudit(store.engine).verify().ok  # the chain alone cannot tell
    [found] = audit.verify(anchors=anchors).findings
    assert (found.kind, found.key) == ("halts_changed", "halt 2")
    assert "sealed the halts history up to halt 2; that row is gone" in found.problem
