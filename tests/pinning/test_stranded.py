"""A deploy that changes the machine definition leaves unfinished runs stranded: nothing
drives them under rules they did not start with until `runs migrate` moves them, ledgered.

Memory, SQLite and PostgreSQL stores, through the engine as every entry point uses it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import MigrationRefused, RunStranded
from fsm.integrity import check_run, records_of
from fsm.machines.specs import TRADING_SPECS
from fsm.migration import Migration
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.spec import SpecSet
from fsm.worker import Worker
from tests.conftest import TRADING_DAY
from tests.pinning.variants import engine_of, reading_plans_v2, with_extra_guard, without_approval

CURRENT = TRADING_SPECS.definition.definition_hash
LATER = FixedClock(TRADING_DAY + timedelta(minutes=5))


@pytest.fixture
def broker(tmp_path: Path) -> PaperBroker:
    return PaperBroker(tmp_path / "paper.db")


def parked_under(store: RunStore, broker: PaperBroker, specs: SpecSet) -> RunRecord:
    run = engine_of(store, broker, FixedClock(TRADING_DAY), specs, "old-").run(
        RunRequest(account_id="paper")
    )
    pinned = specs.definition.definition_hash
    assert (run.state, run.definition_hash) == ("awaiting_approval", pinned)
    return run


def migration(store: RunStore, specs: SpecSet = TRADING_SPECS) -> Migration:
    return Migration(store, specs, LATER, "ops-carol", "release 2 checked against this plan")


def test_a_changed_guard_strands_a_parked_run(store: RunStore, broker: PaperBroker) -> None:
    run = parked_under(store, broker, with_extra_guard())
    rows = len(store.ledger(run.run_id))
    deployed = engine_of(store, broker, LATER, TRADING_SPECS, "new-")
    for refused in (
        lambda: deployed.approve(run.run_id, actor="ops-bob", reason="looks right"),
        lambda: deployed.reject(run.run_id, actor="ops-bob", reason="no"),
        lambda: deployed.resume(run.run_id),
        lambda: deployed.cancel(run.run_id, actor="ops-bob", reason="stop"),
    ):
        with pytest.raises(RunStranded, match=f"runs migrate {run.run_id} --to {CURRENT[:12]}"):
            refused()
    assert [r.run_id for r in deployed.stranded()] == [run.run_id]
    listed = store.list_runs(RunFilter(stranded_from=CURRENT))
    assert [r.run_id for r in listed] == [run.run_id]
    assert store.list_runs(RunFilter(stranded_from=run.definition_hash)) == []
    expired = engine_of(store, broker, FixedClock(TRADING_DAY + timedelta(hours=2)),
                        TRADING_SPECS, "late-")  # fmt: skip
    assert expired.expire_approvals() == []  # its approval deadline passed: left, not failed
    assert len(store.ledger(run.run_id)) == rows  # nothing was written
    assert store.get_run(run.run_id).state == "awaiting_approval"


def test_a_worker_leaves_a_stranded_run_queued(store: RunStore, broker: PaperBroker) -> None:
    old = with_extra_guard()
    queued = engine_of(store, broker, FixedClock(TRADING_DAY), old, "old-").submit(
        RunRequest(account_id="paper")
    )
    deployed = engine_of(store, broker, LATER, TRADING_SPECS, "new-")
    assert deployed.claim() is None
    assert [r.run_id for r in deployed.stranded()] == [queued.run_id]
    assert store.get_run(queued.run_id).status.value == "queued"
    assert engine_of(store, broker, LATER, old, "old2-").claim() is not None  # its release may


def test_migrate_moves_a_compatible_run_ledgered_and_verified(
    store: RunStore, broker: PaperBroker
) -> None:
    old = with_extra_guard().definition.definition_hash
    run = parked_under(store, broker, with_extra_guard())
    moved = migration(store).run(run.run_id)
    assert (moved.definition_hash, moved.version) == (CURRENT, run.version + 1)
    assert moved.state == run.state
    row = store.ledger(run.run_id)[-1]
    assert (row.event, row.source, row.target, row.actor) == (
        "migrated",
        "awaiting_approval",
        "awaiting_approval",
        "ops-carol",
    )
    assert row.commits == {"definition_from": old, "definition_to": CURRENT}
    assert row.guards[0].reason == "release 2 checked against this plan"
    assert check_run(records_of(store, run.run_id)) == ([], False)
    assert store.list_runs(RunFilter(stranded_from=CURRENT)) == []
    done = engine_of(store, broker, LATER, TRADING_SPECS, "new-").approve(
        run.run_id, actor="ops-bob", reason="checked the plan"
    )
    assert done.state == "done"
    approved = next(e for e in store.ledger(run.run_id) if e.event == "approved")
    assert "market_open" in {g.name for g in approved.guards}  # the new chart's guards
    assert check_run(records_of(store, run.run_id)) == ([], False)


def test_migrate_is_refused_when_the_state_vanished(store: RunStore, broker: PaperBroker) -> None:
    run = parked_under(store, broker, TRADING_SPECS)
    rows = store.ledger(run.run_id)
    with pytest.raises(MigrationRefused, match="state awaiting_approval does not exist"):
        migration(store, without_approval()).run(run.run_id)
    assert store.ledger(run.run_id) == rows
    assert store.get_run(run.run_id).definition_hash == CURRENT


def test_migrate_checks_the_checkpoint_schema_the_state_accepts(
    store: RunStore, broker: PaperBroker
) -> None:
    run = parked_under(store, broker, with_extra_guard())
    strict = reading_plans_v2(accepts_v1=False)
    with pytest.raises(MigrationRefused, match="planning checkpoint is schema version 1, which "
                       r"the awaiting_approval step does not accept \(2\)"):  # fmt: skip
        migration(store, strict).run(run.run_id)
    tolerant = reading_plans_v2(accepts_v1=True)  # its spec declares plans of schema 1 read
    assert migration(store, tolerant).run(run.run_id).definition_hash == CURRENT


def test_all_compatible_moves_what_is_safe_and_reports_the_rest(
    store: RunStore, broker: PaperBroker
) -> None:
    run = parked_under(store, broker, with_extra_guard())
    moved, refused = migration(store).all_compatible()
    assert ([r.run_id for r in moved], refused) == ([run.run_id], {})
    assert migration(store).all_compatible() == ([], {})


def test_a_worker_reports_the_stranded_runs_it_leaves(
    store: RunStore, broker: PaperBroker, caplog: pytest.LogCaptureFixture
) -> None:
    queued = engine_of(store, broker, FixedClock(TRADING_DAY), with_extra_guard(), "old-").submit(
        RunRequest(account_id="paper")
    )
    deployed = engine_of(store, broker, LATER, TRADING_SPECS, "new-")
    with caplog.at_level("WARNING", logger="tradefsm.worker"):
        report = Worker(lambda: deployed, idle_exit=0, poll_seconds=0.01).run()
    assert (report.runs, report.stranded) == ([], [queued.run_id])
    logged = [r for r in caplog.records if r.getMessage() == "stranded_runs"]
    assert [r.run_ids for r in logged] == [[queued.run_id]]  # type: ignore[attr-defined]


def test_resume_all_skips_a_stranded_run_and_retry_starts_under_the_new_definition(
    store: RunStore, broker: PaperBroker
) -> None:
    old = with_extra_guard()
    held = engine_of(store, broker, FixedClock(TRADING_DAY), old, "old-").create(
        RunRequest(account_id="paper")
    )  # its process died in idle: the lease runs out
    after = FixedClock(TRADING_DAY + timedelta(hours=1))
    assert [r.run_id for r in engine_of(store, broker, after, old, "o2-").resumable()] == [
        held.run_id
    ]
    deployed = engine_of(store, broker, after, TRADING_SPECS, "new-")
    assert deployed.resumable() == []
    engine_of(store, broker, after, old, "o3-").cancel(held.run_id, actor="ops-bob",
                                                      reason="old release ends it")  # fmt: skip
    retried = deployed.retry(held.run_id)
    assert (retried.parent_run_id, retried.definition_hash) == (held.run_id, CURRENT)
