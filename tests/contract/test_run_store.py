"""One contract, every backend: memory, SQLite and PostgreSQL stores behave the same."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fsm.definition import trading_definition
from fsm.errors import ConcurrentModification, RunAlreadyActive, RunNotFound
from fsm.ledger import GENESIS_HASH, first_broken_seq, seal
from fsm.ports import RunFilter, RunStore
from fsm.records import (
    Checkpoint,
    GuardDecision,
    IntentUpdate,
    Mode,
    OrderIntent,
    RunRecord,
    RunStatus,
    Side,
    StoredIntent,
)

T0 = datetime(2026, 11, 27, 14, 35, 0, 123456, tzinfo=UTC)


def _new_run(store: RunStore, run_id: str = "run_1", account: str = "acc", **extra: object):
    definition = trading_definition()
    store.ensure_definition(definition.record())
    entry = seal(
        GENESIS_HASH, run_id=run_id, seq=1, event="created", source=None, target="idle",
        accepted=True, actor="engine", correlation_id="corr", causation_id="command:run",
        occurred_at=T0,
    )  # fmt: skip
    run = RunRecord(
        run_id=run_id, correlation_id="corr", account_id=account, mode=Mode.PAPER,
        as_of=date(2026, 11, 27), state="idle", status=RunStatus.ACTIVE, version=1,
        definition_hash=definition.definition_hash, params={"note": "x"}, head_hash=entry.hash,
        created_at=T0, updated_at=T0, **extra,
    )  # fmt: skip
    store.create_run(run, entry)
    return run, entry


def _move(store: RunStore, run: RunRecord, event: str, target: str | None, checkpoint=False):
    seq = run.version + 1
    at = T0 + timedelta(seconds=seq)
    guards = (GuardDecision(name="g", passed=target is not None, reason="r", inputs={"x": "1.50"}),)
    entry = seal(
        run.head_hash, run_id=run.run_id, seq=seq, event=event, source=run.state, target=target,
        accepted=target is not None, guards=guards, actor="engine", correlation_id="corr",
        causation_id=f"{run.run_id}#{run.version}", occurred_at=at, duration_ms=3,
    )  # fmt: skip
    moved = run.model_copy(
        update={"state": target or run.state, "version": seq, "head_hash": entry.hash,
                "updated_at": at,
                "status": RunStatus.DONE if target == "done" else RunStatus.ACTIVE}
    )  # fmt: skip
    cp = None
    if checkpoint:
        cp = Checkpoint(run_id=run.run_id, seq=seq, state=run.state, schema_version=1,
                        output={"price": "101.25", "n": 3})  # fmt: skip
    store.commit_transition(moved, entry, cp)
    return moved


def test_a_created_run_reads_back_with_its_first_ledger_row(store: RunStore) -> None:
    run, entry = _new_run(store)
    assert store.get_run("run_1") == run
    assert store.ledger("run_1") == [entry]
    assert store.checkpoints("run_1") == []


def test_transitions_append_rows_move_the_run_and_keep_the_chain(store: RunStore) -> None:
    run, _ = _new_run(store)
    run = _move(store, run, "start", "generating_signals")
    run = _move(store, run, "signals_generated", None)  # a refused attempt
    run = _move(store, run, "signals_generated", "analyzing", checkpoint=True)
    stored = store.get_run("run_1")
    assert (stored.state, stored.version, stored.head_hash) == ("analyzing", 4, run.head_hash)
    rows = store.ledger("run_1")
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert [r.accepted for r in rows] == [True, True, False, True]
    assert rows[2].guards[0].inputs == {"x": "1.50"}
    assert first_broken_seq(rows) is None
    [cp] = store.checkpoints("run_1")
    assert (cp.seq, cp.state, cp.output) == (4, "generating_signals", {"price": "101.25", "n": 3})


def test_a_stale_version_changes_nothing(store: RunStore) -> None:
    run, _ = _new_run(store)
    _move(store, run, "start", "generating_signals")
    with pytest.raises(ConcurrentModification):
        _move(store, run, "fail", "failed")  # built on version 1, the run is at 2
    assert store.get_run("run_1").state == "generating_signals"
    assert len(store.ledger("run_1")) == 2


def test_one_active_run_per_account(store: RunStore) -> None:
    run, _ = _new_run(store, "run_1", account="acc")
    with pytest.raises(RunAlreadyActive):
        _new_run(store, "run_2", account="acc")
    _new_run(store, "run_3", account="other")
    _move(store, _move(store, run, "start", "generating_signals"), "signals_reported", "done")
    _new_run(store, "run_4", account="acc")  # the first run ended: the account is free again
    assert {r.run_id for r in store.list_runs(RunFilter(account_id="acc"))} == {"run_1", "run_4"}


def test_idempotency_key_is_unique_and_findable(store: RunStore) -> None:
    _new_run(store, "run_1", account="a", idempotency_key="daily-2026-11-27")
    assert store.find_by_idempotency_key("daily-2026-11-27").run_id == "run_1"
    assert store.find_by_idempotency_key("nope") is None
    with pytest.raises(RunAlreadyActive):
        _new_run(store, "run_2", account="b", idempotency_key="daily-2026-11-27")


def test_unknown_run_raises_run_not_found(store: RunStore) -> None:
    with pytest.raises(RunNotFound):
        store.get_run("missing")
    assert store.ledger("missing") == []


def test_list_runs_filters_and_orders_newest_first(store: RunStore) -> None:
    _new_run(store, "run_1", account="a")
    later = T0 + timedelta(hours=1)
    definition = trading_definition()
    entry = seal(GENESIS_HASH, run_id="run_2", seq=1, event="created", source=None,
                 target="idle", accepted=True, actor="engine", correlation_id="c",
                 causation_id=None, occurred_at=later)  # fmt: skip
    store.create_run(
        store.get_run("run_1").model_copy(
            update={"run_id": "run_2", "account_id": "b", "created_at": later,
                    "mode": Mode.DRY_RUN, "head_hash": entry.hash,
                    "definition_hash": definition.definition_hash}
        ),
        entry,
    )  # fmt: skip
    assert [r.run_id for r in store.list_runs(RunFilter())] == ["run_2", "run_1"]
    assert [r.run_id for r in store.list_runs(RunFilter(mode="dry-run"))] == ["run_2"]
    assert [r.run_id for r in store.list_runs(RunFilter(until=later))] == ["run_1"]
    assert [r.run_id for r in store.list_runs(RunFilter(since=later))] == ["run_2"]
    assert [r.run_id for r in store.list_runs(RunFilter(limit=1))] == ["run_2"]


def test_intents_are_stored_in_order_then_updated(store: RunStore) -> None:
    _new_run(store)
    intents = [
        StoredIntent(
            run_id="run_1",
            intent=OrderIntent(
                client_order_id=f"tf-{n}",
                symbol=s,
                side=side,
                qty=Decimal("1.000001"),
                reference_price=Decimal("10.25"),
            ),
            status="pending",
            updated_at=T0,
        )
        for n, (s, side) in enumerate([("ZZZ", Side.SELL), ("AAA", Side.BUY)])
    ]
    store.save_intents(intents)
    with pytest.raises(ConcurrentModification):
        store.save_intents(intents[:1])
    store.update_intent(
        IntentUpdate(run_id="run_1", client_order_id="tf-1", status="filled",
                     broker_order_id="b-1", filled_qty=Decimal("1.000001"),
                     avg_price=Decimal("10.25"), updated_at=T0 + timedelta(seconds=1))
    )  # fmt: skip
    stored = store.intents("run_1")
    assert [i.intent.symbol for i in stored] == ["ZZZ", "AAA"]
    assert stored[1].status == "filled"
    assert stored[1].filled_qty == Decimal("1.000001")
    assert stored[1].intent.reference_price == Decimal("10.25")
    assert stored[0].status == "pending"
