"""One contract, every backend: memory, SQLite and PostgreSQL stores behave the same."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fsm.definition import trading_definition
from fsm.errors import (
    ConcurrentModification,
    RunAlreadyActive,
    RunLeased,
    RunNotFound,
    RunNotResumable,
)
from fsm.kinds import Mode, RunStatus
from fsm.ledger import GENESIS_HASH, seal
from fsm.pluginrecords import OrderIntent, Side
from fsm.ports import RunFilter, RunStore
from fsm.records import (
    Checkpoint,
    Fence,
    GuardDecision,
    IntentUpdate,
    RunRecord,
    StepAttempt,
    StoredIntent,
)
from tests.conftest import broken_links

T0 = datetime(2026, 11, 27, 14, 35, 0, 123456, tzinfo=UTC)
OWNER = "host-a/100/lease_1"


def _fence(run: RunRecord, owner: str = OWNER) -> Fence:
    return Fence(run_id=run.run_id, version=run.version, lease_owner=owner,
                 lease_expires_at=T0 + timedelta(minutes=2))  # fmt: skip


def _new_run(store: RunStore, run_id: str = "run_1", account: str = "acc", **extra: object):
    definition = trading_definition()
    store.ensure_definition(definition.record())
    entry = seal(
        GENESIS_HASH, run_id=run_id, seq=1, event="created", source=None, target="idle",
        accepted=True, actor="engine", correlation_id="corr", causation_id="command:run",
        occurred_at=T0,
    )  # fmt: skip
    run = RunRecord(
        run_id=run_id, correlation_id=extra.pop("correlation_id", "corr"), account_id=account,
        mode=Mode.PAPER, as_of=date(2026, 11, 27), state="idle",
        status=extra.pop("status", RunStatus.ACTIVE), version=1,
        definition_hash=definition.definition_hash, params={"note": "x"}, head_hash=entry.hash,
        created_at=T0, updated_at=T0, lease_owner=OWNER,
        lease_expires_at=T0 + timedelta(minutes=1), **extra,
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
    assert not broken_links(rows)
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


def test_list_runs_finds_by_id_correlation_requester_failure_and_parent(store: RunStore) -> None:
    def failure(error_type: str, message: str) -> dict[str, str]:
        return {"error_type": error_type, "stage": "planning", "message": message}

    failed = RunStatus.FAILED
    _new_run(
        store, "run_a1", account="a", status=failed, failure=failure("Cancelled", "looks wrong")
    )
    _new_run(
        store,
        "run_b2",
        account="b",
        correlation_id="trace-7",
        status=failed,
        failure=failure("GuardRejected", "guard max_orders refused plan_ready: 3 > 2"),
    )
    _new_run(
        store,
        "run_c3",
        account="c",
        parent_run_id="run_a1",
        status=failed,
        failure=failure("GuardRejected", "plan_ready refused by guard max_orders_x: x"),
    )
    _new_run(store, "run_d4", account="d", failure=failure("Cancelled", "not failed (yet)"))

    def found(**fields: object) -> list[str]:
        query = RunFilter(**fields)  # type: ignore[arg-type]
        assert sum(store.count_runs(query).values()) == len(store.list_runs(query))
        return sorted(r.run_id for r in store.list_runs(query))

    assert found(search="run_") == ["run_a1", "run_b2", "run_c3", "run_d4"]
    assert found(search="run_b") == ["run_b2"]
    assert found(search="trace-7") == ["run_b2"]
    assert found(search="trace") == []  # a correlation id is matched whole
    assert found(search="run%") == []  # no wildcard
    assert found(requested_by="engine") == ["run_a1", "run_b2", "run_c3", "run_d4"]
    assert found(requested_by="ops-eve") == []
    assert found(failure_type="Cancelled") == ["run_a1"]
    assert found(guard="max_orders") == ["run_b2"]
    assert found(guard="max_orders_x") == ["run_c3"]
    assert found(retry_of="run_a1") == ["run_c3"]


PREFIXED = ("run_a1", "run_a%z", "run_az", "run_b", "RUN_a9", "run_é1", "run_\U0010ffff1")


@pytest.mark.parametrize(
    ("prefix", "ids"),
    [("run_a", ["run_a%z", "run_a1", "run_az"]), ("run_a%", ["run_a%z"]), ("run_é", ["run_é1"]),
     ("run_\U0010ffff", ["run_\U0010ffff1"]), ("RUN", ["RUN_a9"]), ("run_b", ["run_b"]),
     ("run", ["run_a%z", "run_a1", "run_az", "run_b", "run_é1", "run_\U0010ffff1"])],
)  # fmt: skip
def test_a_run_id_prefix_matches_exactly_those_ids(
    store: RunStore, prefix: str, ids: list[str]
) -> None:
    """A prefix is literal text, case and all, on every backend (SQLite's LIKE alone would
    ignore case); SQLite finds the ids through its index (persistence.dialects.starts_with)."""
    for run_id in PREFIXED:
        _new_run(store, run_id, account=run_id)
    assert store.run_ids_starting(prefix, 10) == sorted(ids)
    assert sorted(r.run_id for r in store.list_runs(RunFilter(search=prefix))) == sorted(ids)
    assert sum(store.count_runs(RunFilter(search=prefix)).values()) == len(ids)


def test_intents_are_stored_in_order_then_updated(store: RunStore) -> None:
    run, _ = _new_run(store)
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
    store.save_intents(intents, _fence(run))
    with pytest.raises(ConcurrentModification):
        store.save_intents(intents[:1], _fence(run))
    store.update_intent(
        IntentUpdate(run_id="run_1", client_order_id="tf-1", status="filled",
                     broker_order_id="b-1", filled_qty=Decimal("1.000001"),
                     avg_price=Decimal("10.25"), updated_at=T0 + timedelta(seconds=1)),
        _fence(run),
    )  # fmt: skip
    stored = store.intents("run_1")
    assert [i.intent.symbol for i in stored] == ["ZZZ", "AAA"]
    assert stored[1].status == "filled"
    assert stored[1].filled_qty == Decimal("1.000001")
    assert stored[1].intent.reference_price == Decimal("10.25")
    assert stored[0].status == "pending"


def test_a_live_lease_keeps_other_processes_out(store: RunStore) -> None:
    _new_run(store)
    with pytest.raises(RunLeased):
        store.acquire_lease("run_1", "host-b/200/x", T0 + timedelta(minutes=5), T0, None)
    mine = store.acquire_lease("run_1", OWNER, T0 + timedelta(minutes=5), T0, None)
    assert mine.lease_expires_at == T0 + timedelta(minutes=5)
    taken = store.acquire_lease(
        "run_1", "host-a/300/y", T0 + timedelta(minutes=6), T0, takeover_from=OWNER
    )
    assert taken.lease_owner == "host-a/300/y"


def test_an_expired_lease_is_taken_over_and_fences_out_the_old_owner(store: RunStore) -> None:
    run, _ = _new_run(store)
    later = T0 + timedelta(minutes=2)
    store.acquire_lease("run_1", "host-b/200/x", later + timedelta(minutes=1), later, None)
    with pytest.raises(ConcurrentModification):
        _move(store, run, "start", "generating_signals")  # the old owner's write
    with pytest.raises(ConcurrentModification):
        store.save_intents([], _fence(run))
    stored = store.get_run("run_1")
    assert (stored.state, stored.version, stored.lease_owner) == ("idle", 1, "host-b/200/x")
    moved = _move(store, stored, "start", "generating_signals")
    assert moved.version == 2


def test_a_finished_run_cannot_be_leased(store: RunStore) -> None:
    run, _ = _new_run(store)
    _move(store, _move(store, run, "start", "generating_signals"), "signals_reported", "done")
    with pytest.raises(RunNotResumable):
        store.acquire_lease("run_1", OWNER, T0 + timedelta(hours=1), T0 + timedelta(hours=1), None)


def test_attempts_are_kept_with_their_outcome(store: RunStore) -> None:
    run, _ = _new_run(store)
    failed = StepAttempt(run_id="run_1", state="idle", attempt=1, started_at=T0,
                         finished_at=T0 + timedelta(seconds=1), outcome="error",
                         error_type="MarketDataUnavailable", error_message="503")  # fmt: skip
    store.record_attempt(failed, _fence(run))
    with pytest.raises(ConcurrentModification):
        store.record_attempt(failed, _fence(run))
    with pytest.raises(ConcurrentModification):
        store.record_attempt(failed.model_copy(update={"attempt": 2}), _fence(run, "intruder"))
    ok = failed.model_copy(update={"attempt": 2, "outcome": "ok", "error_type": None,
                                   "error_message": None})  # fmt: skip
    seq = run.version + 1
    entry = seal(run.head_hash, run_id="run_1", seq=seq, event="start", source="idle",
                 target="generating_signals", accepted=True, actor="engine",
                 correlation_id="corr", causation_id=None, occurred_at=T0, attempt=2)  # fmt: skip
    moved = run.model_copy(update={"state": "generating_signals", "version": seq,
                                   "head_hash": entry.hash})  # fmt: skip
    store.commit_transition(moved, entry, None, ok)
    assert store.attempts("run_1") == [failed, ok]


def _queue(store: RunStore, accounts: list[str]) -> None:
    definition = trading_definition()
    store.ensure_definition(definition.record())
    for n, account in enumerate(accounts):
        entry = seal(GENESIS_HASH, run_id=f"q{n}", seq=1, event="created", source=None,
                     target="idle", accepted=True, actor="engine", correlation_id="c",
                     causation_id=None, occurred_at=T0 + timedelta(seconds=n))  # fmt: skip
        store.create_run(RunRecord(
            run_id=f"q{n}", correlation_id="c", account_id=account, mode=Mode.PAPER,
            as_of=date(2026, 11, 27), state="idle", status=RunStatus.QUEUED, version=1,
            definition_hash=definition.definition_hash, head_hash=entry.hash,
            created_at=T0 + timedelta(seconds=n), updated_at=T0,
        ), entry)  # fmt: skip


def test_claims_take_queued_runs_oldest_first_one_per_account(store: RunStore) -> None:
    _queue(store, ["a", "a", "b"])
    later = T0 + timedelta(minutes=1)
    deadline = T0 + timedelta(minutes=15)
    first = store.claim_next("w1", later + timedelta(seconds=30), later, deadline)
    assert first is not None
    assert (first.run_id, first.status, first.lease_owner) == ("q0", RunStatus.ACTIVE, "w1")
    assert first.deadline_at == deadline
    second = store.claim_next("w2", later + timedelta(seconds=30), later, deadline)
    assert second is not None
    assert second.run_id == "q2"  # q1 waits: account a already has an active run
    assert store.claim_next("w3", later + timedelta(seconds=30), later, deadline) is None
    expired = later + timedelta(seconds=31)
    again = store.claim_next("w3", expired + timedelta(seconds=30), expired, deadline)
    assert again is not None
    assert (again.run_id, again.lease_owner) == ("q0", "w3")  # its lease ran out


def test_a_queued_run_under_a_live_lease_is_not_claimed(store: RunStore) -> None:
    _queue(store, ["a"])
    later = T0 + timedelta(minutes=1)
    held = store.acquire_lease("q0", "ops", later + timedelta(seconds=30), later, None)
    assert (held.status, held.lease_owner) == (RunStatus.QUEUED, "ops")
    deadline = T0 + timedelta(minutes=15)
    assert store.claim_next("w1", later + timedelta(seconds=30), later, deadline) is None
    with pytest.raises(RunLeased):
        store.acquire_lease("q0", "w1", later + timedelta(seconds=30), later, None)
    lapsed = later + timedelta(seconds=31)
    claimed = store.claim_next("w1", lapsed + timedelta(seconds=30), lapsed, deadline)
    assert claimed is not None
    assert (claimed.run_id, claimed.lease_owner) == ("q0", "w1")


def test_storing_a_definition_again_is_harmless(store: RunStore) -> None:
    from fsm.definition import trading_definition
    from persistence.store import SqlRunStore

    record = trading_definition().record()
    store.ensure_definition(record)
    # Another process on the same database knows nothing yet: insert-or-ignore, no clash.
    again = SqlRunStore(store.engine) if isinstance(store, SqlRunStore) else store
    again.ensure_definition(record)
    assert again.definition(record.definition_hash).definition_hash == record.definition_hash


def test_a_compiled_chart_is_stored_with_its_diagram_drawn_only_when_new(store: RunStore) -> None:
    from fsm.definition import compile_chart
    from fsm.machines.trading import TradingWorkflow
    from persistence.store import SqlRunStore

    compiled = compile_chart(TradingWorkflow)
    store.ensure_definition(compiled)
    stored = store.definition(compiled.definition_hash)
    assert stored.mermaid.startswith("stateDiagram-v2")
    assert stored.canonical == compiled.canonical()
    again = SqlRunStore(store.engine) if isinstance(store, SqlRunStore) else store
    fresh = compile_chart(TradingWorkflow)
    again.ensure_definition(fresh)  # stored already: its diagram is not drawn again
    assert "mermaid" not in vars(fresh)
