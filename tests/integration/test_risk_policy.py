"""The risk policy as data, on SQLite and PostgreSQL: who may change it, which version a run
uses, settings that may only tighten it, and an edited history found by `audit verify`."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import GuardRejected, InvalidConfiguration, InvalidInput
from fsm.ids import SequentialIdFactory
from fsm.kinds import Mode
from fsm.policyhistory import Proposal, approve, current_version, propose
from fsm.ports import RunFilter
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.audit.mutations import bypassing
from tests.conftest import TRADING_DAY, make_engine_for

ANN = Settings(actor="trader-ann")


class Desk:
    """One run database; each engine is a new process with a fresh paper account and ids of
    its own, also when engines are made on racing threads."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.store = SqlRunStore(make_engine(url))
        self.folder = folder
        self._numbers = itertools.count(1)  # next() is one step: no two threads share a number

    def engine(self, settings: Settings = ANN) -> Engine:
        n = next(self._numbers)
        broker = PaperBroker(self.folder / f"paper-{n}.db")  # a fresh account each
        return make_engine_for(self.store, broker, FixedClock(TRADING_DAY), settings,
                               ids=SequentialIdFactory(f"e{n}-"))  # fmt: skip

    def set(self, actor: str, account: str | None = None, **values: Any) -> str:
        return propose(
            self.store, Proposal(account, values, actor, "desk review"), TRADING_DAY
        ).kind

    def guard(self, run: RunRecord, name: str) -> dict[str, str]:
        """The inputs of the last decision named ``name`` in the run's ledger."""
        found = [g for e in self.store.ledger(run.run_id) for g in e.guards if g.name == name]
        return found[-1].inputs


@pytest.fixture
def desk(migrated_url: str, tmp_path: Path) -> Desk:
    return Desk(migrated_url, tmp_path)


def test_the_defaults_are_version_1_and_a_run_pins_the_version_in_force(desk: Desk) -> None:
    assert current_version(desk.store.policy_history()) == 1
    run = desk.engine().run(RunRequest(account_id="acct"))
    assert run.params["policy_version"] == 1
    assert desk.guard(run, "max_orders") | {"orders": ""} == {
        "orders": "", "limit": "50", "source": "policy v1"}  # fmt: skip


def test_a_loosening_change_waits_for_a_second_person_and_a_tightening_applies_at_once(
    desk: Desk,
) -> None:
    assert desk.set("risk-bob", max_orders=10) == "applied"
    assert desk.set("risk-bob", max_orders=40) == "proposed"
    rows = desk.store.policy_history()
    assert current_version(rows) == 2  # the loosening is not in force yet
    with pytest.raises(InvalidInput, match="risk-bob proposed policy change 3 and may not"):
        approve(desk.store, 3, "risk-bob", "mine", TRADING_DAY)
    assert approve(desk.store, 3, "risk-cy", "agreed", TRADING_DAY).seq == 4
    with pytest.raises(InvalidInput, match="already approved by risk-cy"):
        approve(desk.store, 3, "risk-dee", "again", TRADING_DAY)
    run = desk.engine().run(RunRequest(account_id="acct"))
    assert desk.guard(run, "max_orders")["limit"] == "40"


def test_bad_keys_and_values_are_one_line_errors(desk: Desk) -> None:
    with pytest.raises(InvalidInput, match="unknown policy key 'max_ordrs'"):
        desk.set("risk-bob", max_ordrs=1)
    with pytest.raises(InvalidInput, match="policy max_orders='many'"):
        desk.set("risk-bob", max_orders="many")
    assert len(desk.store.policy_history()) == 1


def test_an_account_override_applies_to_that_account_only(desk: Desk) -> None:
    desk.set("risk-bob", account="small", max_orders=1)
    small = desk.engine().run(RunRequest(account_id="small"))
    other = desk.engine().run(RunRequest(account_id="other"))
    assert (small.state, other.state) == ("failed", "done")
    assert "guard max_orders refused" in small.failure["message"]


def test_a_run_keeps_its_pinned_policy_after_the_policy_changes(desk: Desk) -> None:
    engine = desk.engine()
    queued = engine.submit(RunRequest(account_id="acct"))
    desk.set("risk-bob", max_orders=1)  # version 2, after the run was planned under version 1
    run = engine.claim()
    assert run is not None
    assert run.run_id == queued.run_id
    assert run.state == "done"
    assert desk.guard(run, "max_orders")["source"] == "policy v1"
    later = desk.engine().run(RunRequest(account_id="acct2"))
    assert later.state == "failed"
    assert desk.guard(later, "max_orders")["source"] == "policy v2"


def test_approval_rechecks_the_plan_against_a_newer_stricter_policy(desk: Desk) -> None:
    desk.set("risk-bob", approval_notional=Decimal(1000))
    parked = desk.engine().run(RunRequest(account_id="acct"))
    assert parked.state == "awaiting_approval"
    assert parked.params["policy_version"] == 2
    desk.set("risk-bob", max_total_notional=Decimal(1000))  # version 3, while it waits
    with pytest.raises(GuardRejected, match="total_notional_limit"):
        desk.engine().approve(parked.run_id, actor="risk-cy", reason="looks fine")
    inputs = desk.guard(parked, "total_notional_limit")
    assert inputs["limit"] == "1000"
    assert inputs["source"] == "policy v3 (in force at approval)"
    assert desk.store.get_run(parked.run_id).state == "awaiting_approval"


def test_settings_only_tighten_the_policy_outside_live_mode(desk: Desk) -> None:
    looser = desk.engine(Settings(actor="trader-ann", max_orders=500))
    run = looser.run(RunRequest(account_id="a1"))
    assert desk.guard(run, "max_orders") | {"orders": ""} == {
        "orders": "", "limit": "50", "source": "policy v1"}  # fmt: skip
    tighter = desk.engine(Settings(actor="trader-ann", max_orders=2))
    run = tighter.run(RunRequest(account_id="a2"))
    assert run.state == "failed"
    assert desk.guard(run, "max_orders")["source"] == "setting max_orders"


def test_a_looser_setting_is_refused_in_live_mode_before_the_run_exists(desk: Desk) -> None:
    live = Settings(actor="trader-ann", live_trading_enabled=True, max_orders=500)
    with pytest.raises(InvalidConfiguration, match=r"max_orders=500 is looser than the risk "
                       r"policy's max_orders=50 \(policy v1\): in live mode"):  # fmt: skip
        desk.engine(live).run(RunRequest(account_id="acct", mode=Mode.LIVE))
    assert desk.store.list_runs(RunFilter()) == []


def test_an_edited_policy_row_is_a_verify_finding(desk: Desk) -> None:
    desk.set("risk-bob", max_orders=10)
    run = desk.engine().run(RunRequest(account_id="acct"))
    assert SqlAudit(desk.store.engine).verify().ok

    def loosen(conn: Any) -> None:
        conn.exec_driver_sql(
            "UPDATE policy_changes SET \"values\" = '{\"max_orders\": 1000}' WHERE seq = 2"
            if desk.store.engine.dialect.name == "sqlite" else
            "UPDATE policy_changes SET \"values\" = '{\"max_orders\": 1000}'::jsonb WHERE seq = 2"
        )  # fmt: skip

    bypassing(desk.url, loosen)
    findings = SqlAudit(desk.store.engine).verify().findings
    assert [(f.kind, f.key) for f in findings] == [
        ("policy_changed", "policy_changes row 2 (applied)")]  # fmt: skip
    assert run.params["policy_version"] == 2
