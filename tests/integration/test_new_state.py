"""A new state is one declaration: the chart, its spec, its step and its guard.

An example ``compliance_check`` between planning and executing, declared only in this file (a
chart, a spec set built from the trading specs plus its spec, a step and a guard), is driven by
the real engine on a real SQLite file: the ledger, its checkpoint and the orders show it ran.
A second, ``compliance_review``, waits for a person: its spec's ``Parking`` says for how long
and what a person's ``cleared`` or ``blocked`` does; the library's decision entry moves it.
What the specs say is all the rest needs: a plan that reaches ``executing`` through the new
state counts toward the account's daily limits (executing's spec ``sends_plan``), the new
decisions are announced as people's decisions in the event stream, and entering the new parked
state is announced and mailed as a wait for a person, naming the decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from statemachine import State, StateChart

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.adapters.strategy import MomentumStrategy
from fsm.clock import FixedClock
from fsm.dailytotals import SentPlans
from fsm.decisions import decide
from fsm.definition import compile_chart, trading_definition
from fsm.engine import Engine
from fsm.errors import GuardRejected
from fsm.eventlog import EventQuery
from fsm.events import EventKinds, RunEvent, read_events
from fsm.guardcontext import GuardContext, decision
from fsm.guards import GUARDS
from fsm.ids import IdFactory, SequentialIdFactory
from fsm.machines.names import TradingState as S
from fsm.machines.specs import TRADING_SPECS
from fsm.machines.trading import guard
from fsm.mails import RunReports
from fsm.pluginrecords import Frozen
from fsm.policyhistory import Proposal, propose
from fsm.records import GuardDecision, RebalancePlan, RunRecord
from fsm.requests import Ports, RunRequest
from fsm.settings import Settings
from fsm.spec import Decision, Parking, SpecSet, StateSpec, Step
from fsm.steps.runner import StepEnv, StepResult
from persistence import migrate
from persistence.daily import plans_sent
from persistence.engine import make_engine
from persistence.events import SqlEventLog
from persistence.hotpath import DriverStatement
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, broken_links

TRADING = trading_definition()


def _cond(source: str, event: str) -> list[Callable[..., bool]]:
    """The trading chart's guards of one transition, unchanged."""
    return [guard(name) for name in TRADING.transition(source, event).guards]


class ComplianceWorkflow(StateChart[Any]):
    """The trading chart with a compliance check before any order goes out."""

    catch_errors_as_events = False
    allow_event_without_transition = False

    idle = State(initial=True)
    generating_signals = State()
    analyzing = State()
    planning = State()
    awaiting_approval = State()
    compliance_check = State()
    compliance_review = State()  # parked: a compliance officer clears or blocks the plan
    executing = State()
    done = State(final=True)
    failed = State(final=True)

    start = idle.to(generating_signals, cond=_cond("idle", "start"))
    signals_generated = generating_signals.to(
        analyzing, cond=_cond("generating_signals", "signals_generated")
    )
    signals_reported = generating_signals.to(
        done, cond=_cond("generating_signals", "signals_reported")
    )
    rebalance_needed = analyzing.to(planning, cond=_cond("analyzing", "rebalance_needed"))
    rebalance_not_needed = analyzing.to(done, cond=_cond("analyzing", "rebalance_not_needed"))
    plan_reported = planning.to(done, cond=_cond("planning", "plan_reported"))
    plan_empty = planning.to(done, cond=_cond("planning", "plan_empty"))
    plan_approved = planning.to(compliance_check, cond=_cond("planning", "plan_approved"))
    approval_required = planning.to(awaiting_approval, cond=_cond("planning", "approval_required"))
    approved = awaiting_approval.to(compliance_check, cond=_cond("awaiting_approval", "approved"))
    rejected = awaiting_approval.to(failed, cond=_cond("awaiting_approval", "rejected"))
    compliance_cleared = compliance_check.to(executing, cond=guard("restricted_list_clear"))
    review_required = compliance_check.to(compliance_review)
    cleared = compliance_review.to(executing, cond=[guard("operator_named"), guard("four_eyes")])
    blocked = compliance_review.to(failed, cond=guard("operator_named"))
    execution_completed = executing.to(done, cond=_cond("executing", "execution_completed"))
    fail = (
        idle.to(failed) | generating_signals.to(failed) | analyzing.to(failed)
        | planning.to(failed) | awaiting_approval.to(failed) | compliance_check.to(failed)
        | compliance_review.to(failed) | executing.to(failed)
    )  # fmt: skip
    cancel = (
        idle.to(failed, cond=guard("operator_named"))
        | generating_signals.to(failed, cond=guard("operator_named"))
        | analyzing.to(failed, cond=guard("operator_named"))
        | planning.to(failed, cond=guard("operator_named"))
        | awaiting_approval.to(failed, cond=guard("operator_named"))
        | compliance_check.to(failed, cond=guard("operator_named"))
        | compliance_review.to(failed, cond=guard("operator_named"))
        | executing.to(failed, cond=guard("operator_named"))
    )


class ComplianceReview(Frozen):
    """The compliance step's output: the plan's symbols and those on the restricted list."""

    schema_version: Literal[1] = 1
    symbols: tuple[str, ...]
    restricted: tuple[str, ...]


def reviewer(restricted: Callable[[str], bool], escalate: bool) -> Step:
    """The step: the symbols the plan trades, checked against a restricted list; a plan with
    restricted symbols goes to a person when ``escalate``, else to the guard, which refuses it."""

    def review(env: StepEnv) -> StepResult:
        plan = env.outputs[S.PLANNING]
        assert isinstance(plan, RebalancePlan)
        symbols = tuple(sorted(t.symbol for t in plan.trades))
        found = tuple(s for s in symbols if restricted(s))
        event = "review_required" if found and escalate else "compliance_cleared"
        return StepResult(event, ComplianceReview(symbols=symbols, restricted=found))

    return review


def restricted_list_clear(ctx: GuardContext) -> GuardDecision:
    """The guard: no symbol of the plan is on the restricted list."""
    review = ctx.output
    assert isinstance(review, ComplianceReview)
    said = ", ".join(review.restricted) or "none"
    return decision("restricted_list_clear", not review.restricted,
                    f"restricted symbols in the plan: {said}", restricted=said)  # fmt: skip


# A compliance officer has a day; clearing reads the policy in force, a halt does not hold it.
REVIEW = Parking(expires=lambda policy: 86_400, decisions={
    "cleared": Decision("clear", "Cleared", policy_now=True),
    "blocked": Decision("block", "Blocked"),
})  # fmt: skip


def compliance_specs(restricted: Callable[[str], bool], escalate: bool = False) -> SpecSet:
    """The trading specs, and the compliance check's and review's."""
    check = StateSpec(reviewer(restricted, escalate), ("compliance_cleared", "review_required"),
                      ComplianceReview, uses=(S.PLANNING,),
                      note="re-checked against the list on resume")  # fmt: skip
    review = StateSpec(None, ("cleared", "blocked"), on_resume="wait for a person",
                       uses=("compliance_check",), timeout=None, retry="never",
                       parking=REVIEW)  # fmt: skip
    return SpecSet("compliance", compile_chart(ComplianceWorkflow), dict(TRADING_SPECS)
                   | {"compliance_check": check, "compliance_review": review})  # fmt: skip


@pytest.fixture
def sql_store(sqlite_url: str) -> SqlRunStore:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    return SqlRunStore(engine)


def _engine(store: SqlRunStore, broker: PaperBroker, clock: FixedClock,
            restricted: Callable[[str], bool], escalate: bool = False,
            ids: IdFactory | None = None) -> Engine:  # fmt: skip
    market = BundledMarketData()
    guards = GUARDS | {"restricted_list_clear": restricted_list_clear}
    return Engine(store, Ports(MomentumStrategy(market), market, broker),
                  Settings(actor="trader-ann"), clock, ids or SequentialIdFactory(),
                  specs=compliance_specs(restricted, escalate), guards=guards)  # fmt: skip


def _path(store: SqlRunStore, run: RunRecord) -> list[tuple[str, str | None, str | None, bool]]:
    return [(e.event, e.source, e.target, e.accepted) for e in store.ledger(run.run_id)]


def test_a_run_goes_through_the_new_state_and_the_ledger_says_so(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda symbol: False)
    run = engine.run(RunRequest(account_id="paper"))

    assert run.state == "done"
    assert run.definition_hash == engine.definition.definition_hash != TRADING.definition_hash
    assert _path(sql_store, run)[3:] == [
        ("rebalance_needed", "analyzing", "planning", True),
        ("plan_approved", "planning", "compliance_check", True),
        ("compliance_cleared", "compliance_check", "executing", True),
        ("execution_completed", "executing", "done", True),
    ]
    cleared = sql_store.ledger(run.run_id)[5]
    assert (cleared.guards[0].name, cleared.guards[0].passed) == ("restricted_list_clear", True)
    review = next(c for c in sql_store.checkpoints(run.run_id) if c.state == "compliance_check")
    assert review.output["restricted"] == []
    assert review.output["symbols"]
    assert {o.symbol for o in broker.orders()} == set(review.output["symbols"])
    assert all(o.status == "filled" for o in broker.orders())
    assert not broken_links(sql_store.ledger(run.run_id))


def test_its_guard_refuses_a_restricted_plan_and_no_order_goes_out(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda symbol: True)
    run = engine.run(RunRequest(account_id="paper"))

    assert run.state == "failed"
    assert run.failure is not None
    assert (run.failure["error_type"], run.failure["stage"]) == ("GuardRejected",
                                                                  "compliance_check")  # fmt: skip
    assert "restricted symbols in the plan" in run.failure["message"]
    assert _path(sql_store, run)[-2:] == [
        ("compliance_cleared", "compliance_check", None, False),
        ("fail", "compliance_check", "failed", True),
    ]
    assert broker.orders() == []
    assert not broken_links(sql_store.ledger(run.run_id))


def test_a_state_waiting_for_a_person_parks_and_a_person_clears_it(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda s: True, escalate=True)
    parked = engine.run(RunRequest(account_id="paper"))

    assert (parked.state, parked.status.value) == ("compliance_review", "active")
    assert parked.lease_expires_at == parked.updated_at  # released: no worker holds it
    assert parked.deadline_at == parked.updated_at + timedelta(seconds=86_400)  # its Parking's
    assert engine.resumable() == []
    assert broker.orders() == []
    with pytest.raises(GuardRejected, match="four_eyes"):  # the requester may not clear it
        decide(engine, parked.run_id, "cleared", "trader-ann", "mine", None)

    done = decide(engine, parked.run_id, "cleared", "compliance-carol", "on the list, allowed",
                  None)  # fmt: skip
    assert done.state == "done"
    assert _path(sql_store, done)[-4:] == [
        ("review_required", "compliance_check", "compliance_review", True),
        ("cleared", "compliance_review", None, False),
        ("cleared", "compliance_review", "executing", True),
        ("execution_completed", "executing", "done", True),
    ]
    assert sql_store.ledger(done.run_id)[-2].actor == "compliance-carol"
    assert broker.orders()
    assert all(o.status == "filled" for o in broker.orders())
    assert not broken_links(sql_store.ledger(done.run_id))


def test_a_person_blocking_it_fails_the_run_with_who_and_why(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda s: True, escalate=True)
    parked = engine.run(RunRequest(account_id="paper"))

    failed = decide(engine, parked.run_id, "blocked", "compliance-carol", "restricted", None)
    assert failed.state == "failed"
    assert failed.failure == {"error_type": "Blocked", "stage": "compliance_review",
                              "message": "restricted"}  # fmt: skip
    assert sql_store.ledger(failed.run_id)[-1].actor == "compliance-carol"
    assert broker.orders() == []


def test_a_plan_sent_through_the_new_state_counts_toward_the_daily_limits(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock, tmp_path: Path
) -> None:
    # executing's spec sends the plan: every event of this chart entering it counts
    assert compliance_specs(lambda s: False).sent_plans == SentPlans(
        "executing", ("cleared", "compliance_cleared"), S.PLANNING
    )
    one_plan = Decimal("99000.00")  # the demo plan on a fresh paper account
    propose(sql_store, Proposal(None, {"daily_max_notional": one_plan * 3 / 2}, "risk-bob",
                                "one plan a day"), TRADING_DAY)  # fmt: skip
    first = _engine(sql_store, broker, clock, restricted=lambda symbol: False).run(
        RunRequest(account_id="paper")
    )
    fresh = PaperBroker(tmp_path / "paper-2.db")  # the same plan again, from a fresh account
    second = _engine(
        sql_store, fresh, clock, restricted=lambda symbol: False, ids=SequentialIdFactory("again-")
    ).run(RunRequest(account_id="paper"))

    assert (first.state, second.state) == ("done", "failed")
    assert _path(sql_store, first)[5][0] == "compliance_cleared"
    refused = [g for e in sql_store.ledger(second.run_id) for g in e.guards if not g.passed]
    assert [g.name for g in refused] == ["daily_limits"]
    assert (refused[0].inputs["sent_notional"], refused[0].inputs["sent_orders"]) == (
        str(one_plan),
        "8",
    )
    assert (len(broker.orders()), fresh.orders()) == (8, [])


def test_the_store_finds_the_new_states_plans_by_its_index_on_event_and_time(
    sql_store: SqlRunStore,
) -> None:
    sent = compliance_specs(lambda s: False).sent_plans
    assert sent is not None
    statement = DriverStatement(plans_sent(sent), sql_store.engine.dialect)
    values = {"d_account": "paper", "d_start": TRADING_DAY, "d_end": TRADING_DAY}
    with sql_store.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement.sql}",
                                          tuple(statement.params(values))).all()  # fmt: skip
    assert "ix_ledger_event_occurred_at" in " ".join(str(step) for step in plan)
    assert "ledger.event IN ('cleared', 'compliance_cleared')" in statement.sql


def _events(store: SqlRunStore, run: RunRecord, kinds: EventKinds) -> list[RunEvent]:
    found = read_events(SqlEventLog(store.engine), EventQuery(run_id=run.run_id), None, kinds)
    return [event for _, events in found for event in events]


def test_the_new_states_decisions_are_announced_as_peoples_decisions(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda s: True, escalate=True)
    cleared = engine.run(RunRequest(account_id="paper"))
    blocked = engine.run(RunRequest(account_id="desk-2"))
    officer = _engine(sql_store, broker, clock, restricted=lambda s: True, escalate=True,
                      ids=SequentialIdFactory("officer-"))  # another process  # fmt: skip
    decide(officer, cleared.run_id, "cleared", "compliance-carol", "allowed", None)
    decide(officer, blocked.run_id, "blocked", "compliance-carol", "restricted", None)
    kinds = EventKinds.of(engine.specs)

    assert {"cleared", "blocked", "cancel"} <= kinds.peoples
    said = [(e.kind, e.actor) for e in _events(sql_store, cleared, kinds) if e.order is None]
    # a person's decision, not a run another process resumed; the driver carries on after it
    assert said[-2:] == [("run.cleared", "compliance-carol"), ("run.done", "trader-ann")]
    assert "run.resumed" not in [kind for kind, _ in said]
    last = _events(sql_store, blocked, kinds)[-1]
    assert (last.kind, last.actor, last.state) == ("run.blocked", "compliance-carol", "failed")
    mail = RunReports(sql_store, timedelta(0), kinds).of(last)
    assert mail is not None
    assert mail.kind == "FAILURE"  # mailed as the run's failure


def test_entering_the_new_parked_state_is_announced_and_mailed_as_a_wait_for_a_person(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    engine = _engine(sql_store, broker, clock, restricted=lambda s: True, escalate=True)
    parked = engine.run(RunRequest(account_id="paper"))
    kinds = EventKinds.of(engine.specs)

    waits = _events(sql_store, parked, kinds)[-1]
    assert (waits.kind, waits.state) == ("run.waiting_for_compliance_review", "compliance_review")
    assert waits.summary == "waiting for compliance_review: clear or block"
    mail = RunReports(sql_store, timedelta(0), kinds).of(waits)
    assert mail is not None
    assert mail.kind == "WAITING FOR COMPLIANCE REVIEW"
    assert mail.subject.startswith(f"tradefsm WAITING FOR COMPLIANCE REVIEW: run {parked.run_id}")
    assert mail.body.splitlines()[:3] == [
        f"Run {parked.run_id} of account paper (paper) waits for a person in compliance_review; "
        "a person may decide:",
        "Clear: send cleared (fsm.decisions.decide)",
        "Block: send blocked (fsm.decisions.decide)",
    ]
    # the trading chart's parked state keeps its kind, and its decisions their commands
    approval = kinds.waiting[S.AWAITING_APPROVAL]
    assert approval == EventKinds.of(TRADING_SPECS).waiting[S.AWAITING_APPROVAL]
    assert approval.kind == "run.waiting_for_approval"
    assert [command for _, _, command in approval.how("R")] == [
        "tradefsm approve R --actor NAME --reason TEXT",
        "tradefsm reject R --actor NAME --reason TEXT",
    ]
