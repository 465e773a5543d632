"""Tampering that used to pass `audit verify`: a run turned legacy by one older-scheme row,
an order without history, and orders added to a run that never executed.

Each case is checked by `audit verify` (with signed digests) on every backend and, on SQLite,
by the reference verifier printed in docs/audit-integrity.md: both must name it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from fsm.adapters.paper_broker import PaperBroker
from fsm.canonical import utc_text
from fsm.clock import FixedClock
from fsm.digests import Anchors
from fsm.ids import SequentialIdFactory
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from fsm.pluginrecords import OrderIntent, Side
from fsm.records import StoredIntent
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import intents
from persistence.tables import ledger, order_intents
from tests.audit.conftest import History, sqlite_path
from tests.audit.test_tamper import (
    _sql,
    _triggers_back,
    _without_triggers,
    checkpoint_prices,
    order_qty,
    run_result,
)
from tests.conftest import TRADING_DAY, make_engine_for

Recipe = dict[str, Any]


def downgrade(history: History, run: str, recipe: Recipe) -> None:
    """The reported case: one scheme-1 row appended to a finished run, its hash computed as
    the docs say, the run row moved to it; then identity, a checkpoint price, an order's qty
    and the result edited."""
    last = history.store.ledger(run)[-1]
    at = last.occurred_at + timedelta(seconds=1)
    body = last.model_dump(include=set(recipe["LEDGER_FIELDS"])) | {
        "seq": last.seq + 1, "event": "noted", "source": last.target,
        "causation_id": f"{run}#{last.seq}", "occurred_at": utc_text(at),
    }  # fmt: skip
    forged = recipe["chained"](last.hash, body)
    with history.store.engine.begin() as conn:
        conn.execute(insert(ledger), [body | {"occurred_at": at, "scheme": 1, "commits": None,
                                              "prev_hash": last.hash, "hash": forged}])  # fmt: skip
    _sql(history, "UPDATE runs SET version = :v, head_hash = :h, account_id = 'other', "
         "created_at = :c WHERE run_id = :r", v=last.seq + 1, h=forged,
         c=TRADING_DAY - timedelta(days=3), r=run)  # fmt: skip
    checkpoint_prices(history, run)
    order_qty(history, run)
    run_result(history, run)


def all_legacy(history: History, run: str, recipe: Recipe) -> None:
    """A run written after scheme 2 existed, its whole chain recomputed as scheme 1."""
    prev = recipe["ZERO"]
    for entry in history.store.ledger(run):
        body = entry.model_dump(include=set(recipe["LEDGER_FIELDS"]))
        body["occurred_at"] = utc_text(entry.occurred_at)
        digest = recipe["chained"](prev, body)
        _sql(history, "UPDATE ledger SET scheme = 1, commits = NULL, prev_hash = :p, hash = :h "
             "WHERE run_id = :r AND seq = :s", p=prev, h=digest, r=run, s=entry.seq)  # fmt: skip
        prev = digest
    _sql(history, "UPDATE runs SET head_hash = :h WHERE run_id = :r", h=prev, r=run)


def phantom_order(history: History, run: str, recipe: Recipe) -> None:
    """A filled TSLA buy of 500 with no history at all."""
    row = {"client_order_id": "tf-phantom-TSLA", "run_id": run, "position": 9, "symbol": "TSLA",
           "side": "BUY", "qty": Decimal(500), "reference_price": Decimal(250),
           "status": "filled", "broker_order_id": "b-phantom", "filled_qty": Decimal(500),
           "avg_price": Decimal(250), "updated_at": TRADING_DAY}  # fmt: skip
    with history.store.engine.begin() as conn:
        conn.execute(insert(order_intents), [row])


def added_order(history: History, run: str, recipe: Recipe) -> None:
    """A complete order with a valid history, added to a run that never executed."""
    order = OrderIntent(client_order_id=f"tf-added-{run[-4:]}", symbol="TSLA", side=Side.BUY,
                        qty=Decimal(500), reference_price=Decimal(250))  # fmt: skip
    stored = StoredIntent(run_id=run, intent=order, status="filled", updated_at=TRADING_DAY)
    with history.store.engine.begin() as conn:
        intents.save(conn, [stored])


Tamper = Callable[[History, str, Recipe], None]
# (tamper, victim, what verify names (kind, seq; None: any), what the reference verifier names)
CASES: list[tuple[Tamper, str, set[tuple[str, object]], set[str]]] = [
    (downgrade, "done", {("downgraded", 7), ("identity_changed", 1), ("checkpoint_changed", 4),
                         ("intent_changed", None), ("outcome_changed", 7)},
     {"ledger row 7 scheme", "identity", "checkpoint 4", "order tf-", "outcome"}),
    (all_legacy, "dry", {("downgraded", 1)}, {"ledger row 1 scheme"}),
    (phantom_order, "done", {("intent_changed", None)}, {"order tf-phantom-TSLA has no history"}),
    (added_order, "dry", {("intent_changed", 5)}, {"orders committed at seq 5"}),
    (added_order, "refused", {("intent_changed", None)}, {"orders committed at seq"}),
    (added_order, "cancelled", {("intent_changed", None)}, {"orders committed at seq"}),
    (added_order, "no_trade", {("intent_changed", None)}, {"orders committed at seq"}),
]  # fmt: skip
IDS = [f"{c[0].__name__}-{c[1]}" for c in CASES]


@pytest.fixture
def anchors(history: History, tmp_path: Path) -> Anchors:
    private, public = generate_keys(tmp_path / "keys")
    history.audit.seal(load_private_key(private), TRADING_DAY, tmp_path / "digests")
    return Anchors(tmp_path / "digests", (load_public_key(public),))


def _victim(history: History, name: str) -> str:
    if name not in ("cancelled", "no_trade"):
        return str(getattr(history, name).run_id)
    # a plan parked for approval, then cancelled before executing; a run with nothing to trade
    settings = Settings(approval_notional=1000) if name == "cancelled" else Settings(
        drift_threshold=Decimal(1))  # fmt: skip
    broker = PaperBroker(Path(tempfile.mkdtemp()) / "paper.db")
    fsm = make_engine_for(history.store, broker, FixedClock(TRADING_DAY), settings,
                          ids=SequentialIdFactory(name))  # fmt: skip
    run = fsm.run(RunRequest(account_id=name))
    if name == "cancelled":
        run = fsm.cancel(run.run_id, actor="ops-eve", reason="not today")
    assert "executing" not in {e.target for e in history.store.ledger(run.run_id)}
    return str(run.run_id)


@pytest.mark.parametrize(("tamper", "victim", "kinds", "problems"), CASES, ids=IDS)
def test_verify_names_it_with_digests(
    history: History, anchors: Anchors, recipe: Recipe, tamper: Tamper, victim: str,
    kinds: set[tuple[str, object]], problems: set[str],
) -> None:  # fmt: skip
    assert history.audit.verify(anchors=anchors).ok
    _without_triggers(history)
    run = _victim(history, victim)
    tamper(history, run, recipe)
    _triggers_back(history)
    report = history.audit.verify(anchors=anchors)
    found = {(f.kind, f.seq) for f in report.findings}
    assert all((k, s) in found or (s is None and k in dict(found)) for k, s in kinds), found
    assert {f.run_id for f in report.findings} == {run}
    assert report.legacy_runs == (1 if tamper is all_legacy else 0)
    one = {(f.kind, f.seq) for f in history.audit.verify(run, anchors=anchors).findings}
    assert {f for f in found if f[0] != "bad_signature"} <= one  # `verify --run` says the same


@pytest.mark.parametrize(("tamper", "victim", "kinds", "problems"), CASES, ids=IDS)
def test_the_reference_verifier_agrees(
    sqlite_history: History, recipe: Recipe, tamper: Tamper, victim: str,
    kinds: set[tuple[str, object]], problems: set[str],
) -> None:  # fmt: skip
    history = sqlite_history
    for name in ("done", "refused", "dry"):
        assert recipe["verify_run"](sqlite_path(history), _victim(history, name)) == []
    _without_triggers(history)
    run = _victim(history, victim)
    tamper(history, run, recipe)
    found = recipe["verify_run"](sqlite_path(history), run)
    assert all(any(p.startswith(problem) for p in found) for problem in problems), found
    assert not history.audit.verify().ok  # the chain alone names it too
