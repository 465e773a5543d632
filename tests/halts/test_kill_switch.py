"""The kill switch on every backend: the halts history, scopes, who may lift a halt, runs
refused while halted (and ledgered), workers that claim nothing of a halted account."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsm import halts
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import InvalidInput, RunNotResumable, TradingHalted, UnhaltRefused
from fsm.halts import throttle_limits
from fsm.policy import DEFAULT
from fsm.ports import RunStore
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.conftest import TRADING_DAY, make_engine_for

LIMITS = throttle_limits(DEFAULT)  # the default: another person lifts a halt


def _halt(store: RunStore, account: str | None, actor: str = "ops-ann") -> halts.Halt:
    return halts.halt(store, account, actor, "desk says stop", "test", TRADING_DAY)[0]


def test_a_halt_and_its_lifting_are_chained_rows_naming_who_why_and_where(
    store: RunStore,
) -> None:
    first = _halt(store, "acct-a")
    again, recorded = halts.halt(store, "acct-a", "ops-cy", "again", "test", TRADING_DAY)
    assert (again, recorded) == (first, False)  # nothing recorded twice
    lifted = halts.unhalt(store, "acct-a", "risk-bob", "checked the desk", "test", TRADING_DAY,
                          LIMITS)  # fmt: skip
    rows = store.halts()
    assert [(r.seq, r.action, r.actor) for r in rows] == [
        (1, "halt", "ops-ann"), (2, "unhalt", "risk-bob")]  # fmt: skip
    assert rows[1].prev_hash == first.hash == rows[0].hash
    assert lifted == rows[1]
    assert (first.reason, first.process, first.occurred_at) == (
        "desk says stop", "test", TRADING_DAY)  # fmt: skip
    assert halts.findings(rows) == []


def test_an_account_is_halted_by_its_own_halt_or_the_halt_of_every_account(
    store: RunStore,
) -> None:
    _halt(store, "acct-a")
    assert [h.account_id for h in halts.in_force(store.halts(), "acct-a")] == ["acct-a"]
    assert halts.in_force(store.halts(), "acct-b") == []
    _halt(store, None)
    assert [h.account_id for h in halts.in_force(store.halts(), "acct-b")] == [None]
    with pytest.raises(InvalidInput, match="every account halted by ops-ann"):
        halts.unhalt(store, "acct-b", "risk-bob", "r", "test", TRADING_DAY, LIMITS)


def test_the_person_who_halted_may_not_lift_it_when_the_setting_says_so(store: RunStore) -> None:
    _halt(store, None)
    with pytest.raises(UnhaltRefused, match="ops-ann halted every account; another person"):
        halts.unhalt(store, None, "OPS-ANN", "r", "test", TRADING_DAY, LIMITS)
    assert len(store.halts()) == 1  # nothing recorded
    alone = throttle_limits(DEFAULT.model_copy(update={"unhalt_needs_second_person": False}))
    halts.unhalt(store, None, "ops-ann", "r", "test", TRADING_DAY, alone)
    assert halts.in_force(store.halts()) == []


def test_no_run_starts_while_halted_and_the_refusal_is_ledgered(
    store: RunStore, tmp_path: Path
) -> None:
    engine = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY),
                             Settings(actor="trader-ann"))  # fmt: skip
    halt = _halt(store, "acct-a")
    for start in (engine.run, engine.submit):
        with pytest.raises(TradingHalted, match="starting a run refused: account acct-a halted "
                           "by ops-ann") as refused:  # fmt: skip
            start(RunRequest(account_id="acct-a"))
        run = store.get_run(str(refused.value.run_id))
        assert (run.state, run.failure and run.failure["error_type"]) == ("failed", "TradingHalted")
        last = store.ledger(run.run_id)[-1]
        assert (last.event, last.source, last.error_type) == ("fail", "idle", "TradingHalted")
        assert last.commits["halts"] == halt.hash  # the history it obeyed, in its chain
    assert engine.run(RunRequest(account_id="acct-b")).state == "done"  # another account trades


def test_workers_claim_nothing_of_a_halted_account_until_it_is_unhalted(
    store: RunStore, tmp_path: Path
) -> None:
    engine = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY),
                             Settings(actor="trader-ann"))  # fmt: skip
    queued = engine.submit(RunRequest(account_id="acct-a"))
    other = engine.submit(RunRequest(account_id="acct-b"))
    _halt(store, "acct-a")
    claimed = engine.claim()
    assert claimed is not None
    assert claimed.run_id == other.run_id
    assert engine.claim() is None  # acct-a's run waits, queued
    assert store.get_run(queued.run_id).status.value == "queued"
    halts.unhalt(store, "acct-a", "risk-bob", "checked", "test", TRADING_DAY, LIMITS)
    resumed = engine.claim()
    assert resumed is not None
    assert (resumed.run_id, resumed.state) == (queued.run_id, "done")


def test_a_parked_plan_is_not_approved_while_halted(store: RunStore, tmp_path: Path) -> None:
    engine = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY),
                             Settings(actor="trader-ann", approval_notional=1000))  # fmt: skip
    parked = engine.run(RunRequest(account_id="acct-a"))
    assert parked.state == "awaiting_approval"
    _halt(store, None)
    with pytest.raises(TradingHalted, match=f"approving run {parked.run_id} refused"):
        engine.approve(parked.run_id, actor="risk-bob", reason="fine")
    assert store.get_run(parked.run_id).state == "awaiting_approval"  # still parked
    with pytest.raises(RunNotResumable):
        engine.resume(parked.run_id)
    halts.unhalt(store, None, "risk-cy", "checked", "test", TRADING_DAY, LIMITS)
    assert engine.approve(parked.run_id, actor="risk-bob", reason="fine").state == "done"


def test_an_interrupted_run_is_not_resumed_while_halted(store: RunStore, tmp_path: Path) -> None:
    clock = FixedClock(TRADING_DAY)
    engine = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), clock,
                             Settings(actor="trader-ann"))  # fmt: skip
    started = engine.create(RunRequest(account_id="acct-a"))  # leased, never driven
    engine.release_held()
    _halt(store, "acct-a")
    with pytest.raises(TradingHalted, match=f"resuming run {started.run_id} refused"):
        engine.resume(started.run_id)
    assert store.get_run(started.run_id).state == "idle"  # untouched: resumable later
    halts.unhalt(store, "acct-a", "risk-bob", "checked", "test", TRADING_DAY, LIMITS)
    assert engine.resume(started.run_id).state == "done"


def test_a_refused_run_is_retried_after_the_unhalt_and_a_parked_one_can_be_rejected(
    store: RunStore, tmp_path: Path
) -> None:
    engine = make_engine_for(store, PaperBroker(tmp_path / "paper.db"), FixedClock(TRADING_DAY),
                             Settings(actor="trader-ann", approval_notional=1000))  # fmt: skip
    parked = engine.run(RunRequest(account_id="acct-b"))
    _halt(store, None)
    with pytest.raises(TradingHalted) as refused:
        engine.run(RunRequest(account_id="acct-a", idempotency_key="daily-a"))
    assert engine.reject(parked.run_id, actor="risk-bob", reason="no").state == "failed"
    with pytest.raises(TradingHalted):
        engine.retry(str(refused.value.run_id))
    halts.unhalt(store, None, "risk-cy", "checked", "test", TRADING_DAY, LIMITS)
    again = engine.run(RunRequest(account_id="acct-a", idempotency_key="daily-a"))
    assert again.run_id == refused.value.run_id  # the key names the refused run
    retried = engine.retry(again.run_id)
    assert (retried.parent_run_id, retried.state) == (again.run_id, "awaiting_approval")
