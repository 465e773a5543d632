"""A write whose commit succeeded but whose answer was lost is resolved by reading, never
written twice; a fault past the retry budget stops the driver with the run resumable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest

from fsm.adapters.market_data import BundledMarketData
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import DatabaseUnavailable, MarketDataUnavailable
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.ridethrough import RideThrough
from persistence.store import SqlRunStore
from tests.conftest import broken_links, make_engine_for


class LostAnswers(RideThrough):
    """The first write of each kind named in ``lose`` commits, then reports a dropped
    connection, as when the server's answer to COMMIT never arrives."""

    def __init__(self, lose: set[str]) -> None:
        super().__init__(budget_seconds=5, sleep=lambda _s: None)
        object.__setattr__(self, "lose", set(lose))
        object.__setattr__(self, "tries", Counter[str]())

    def write(
        self,
        what: str,
        attempt: Callable[[], None],
        settled: Callable[[], bool],
        run_id: str | None = None,
    ) -> None:
        lose: set[str] = self.lose  # type: ignore[attr-defined]
        tries: Counter[str] = self.tries  # type: ignore[attr-defined]

        def counted() -> None:
            tries[what] += 1
            attempt()
            if what in lose:
                lose.discard(what)
                raise DatabaseUnavailable("server closed the connection unexpectedly")

        super().write(what, counted, settled, run_id)


class FlakyMarket(BundledMarketData):
    """Prices fail once (a step attempt is recorded, then retried), then answer."""

    failed = False

    def prices(self, symbols: Sequence[str], as_of: date) -> Any:
        if not self.failed:
            self.failed = True
            raise MarketDataUnavailable("provider answered 503")
        return super().prices(symbols, as_of)


@pytest.fixture
def sql_store(migrated_url: str) -> SqlRunStore:
    return SqlRunStore(make_engine(migrated_url))


WRITES = ("transition commit", "attempt record", "order intents", "intent update")


@pytest.mark.parametrize("lost", WRITES)
def test_a_lost_answer_is_settled_by_reading(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock, lost: str
) -> None:
    ride = LostAnswers({lost})
    store = SqlRunStore(sql_store.engine, ride)
    engine = make_engine_for(store, broker, clock, Settings(retry_base_seconds=0),
                             market=FlakyMarket())  # fmt: skip
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "done"
    assert ride.tries[lost] >= 1  # type: ignore[attr-defined]
    assert not ride.lose  # type: ignore[attr-defined]  # the answer was lost, and settled
    ledger = store.ledger(run.run_id)
    assert not broken_links(ledger)
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    orders = Counter(o.client_order_id for o in broker.orders())
    assert orders
    assert set(orders.values()) == {1}
    assert [a.outcome for a in store.attempts(run.run_id)].count("error") == 1


class Unreachable(RideThrough):
    """Every transition commit fails as if the server were down."""

    def call(self, what: str, attempt: Callable[[], Any], run_id: str | None = None) -> Any:
        def down() -> Any:
            raise DatabaseUnavailable("connection refused")

        return super().call(what, down if what == "transition commit" else attempt, run_id)


def test_past_the_budget_the_driver_stops_and_the_run_resumes(
    sql_store: SqlRunStore, broker: PaperBroker, clock: FixedClock
) -> None:
    down = SqlRunStore(sql_store.engine, Unreachable(budget_seconds=0.2))
    engine = make_engine_for(down, broker, clock)
    with pytest.raises(DatabaseUnavailable, match="TRADEFSM_DB_RETRY_SECONDS"):
        engine.run(RunRequest(account_id="paper"))
    [stored] = sql_store.list_runs(RunFilter())
    run_id = stored.run_id
    assert (stored.state, stored.status.value) == ("idle", "active")
    engine = make_engine_for(sql_store, broker, clock)
    engine.owner = stored.lease_owner or ""  # the same process, once the database is back
    assert engine.resume(run_id).state == "done"
