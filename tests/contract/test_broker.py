"""The broker contract (``fsm.ports.Broker``): every adapter must pass these tests.

They run against every broker plugin tradefsm bundles, each built through its entry point as
a run builds it: the paper broker, a real component with its own SQLite file, and the Alpaca
adapter talking to a local server that speaks Alpaca's REST contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.errors import DuplicateClientOrderId
from fsm.pluginports import broker_of
from fsm.pluginrecords import OrderIntent, Side
from fsm.plugins import BROKERS, installed
from fsm.ports import Broker
from fsm.settings import Settings
from tests.alpaca_server import KEY, SECRET, AlpacaServer

TERMINAL = {"filled", "partially_filled", "rejected", "canceled", "expired"}
BUNDLED = [p.name for p in installed(BROKERS) if p.distribution == "tradefsm"]


def test_the_bundled_brokers_are_the_paper_broker_and_alpaca() -> None:
    assert BUNDLED == ["alpaca", "paper"]  # a new one is held to this suite by its name


@pytest.fixture(params=BUNDLED)
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    with AlpacaServer() as server:  # a local server speaking Alpaca's REST contract
        settings = Settings(
            broker=request.param, paper_db=tmp_path / "paper.db", alpaca_api_key=KEY,
            alpaca_secret_key=SECRET, alpaca_base_url=server.url,
        )  # fmt: skip
        yield broker_of(settings, "paper")


def _intent(coid: str, symbol: str = "SPY", side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol=symbol, side=side, qty=Decimal("2"),
                       reference_price=Decimal("100"))  # fmt: skip


def test_an_order_is_found_by_its_client_order_id(broker: Broker) -> None:
    ack = broker.submit(_intent("tf-a-B-SPY"))
    assert ack.client_order_id == "tf-a-B-SPY"
    [status] = broker.orders(["tf-a-B-SPY"])
    assert (status.client_order_id, status.broker_order_id) == ("tf-a-B-SPY", ack.broker_order_id)
    assert (status.symbol, status.side, status.qty) == ("SPY", Side.BUY, Decimal("2"))
    assert status.status in TERMINAL | {"new"}


def test_an_ack_that_says_filled_says_how_much(broker: Broker) -> None:
    ack = broker.submit(_intent("tf-f-B-SPY"))
    [status] = broker.orders(["tf-f-B-SPY"])
    if ack.status in ("filled", "partially_filled"):
        assert (ack.filled_qty, ack.avg_price) == (status.filled_qty, status.avg_price)
        assert ack.filled_qty


def test_a_repeated_client_order_id_is_refused_and_places_nothing(broker: Broker) -> None:
    broker.submit(_intent("tf-b-B-SPY"))
    cash = broker.account().cash
    with pytest.raises(DuplicateClientOrderId) as raised:
        broker.submit(_intent("tf-b-B-SPY"))
    assert raised.value.client_order_id == "tf-b-B-SPY"
    assert len(broker.orders(["tf-b-B-SPY"])) == 1
    assert broker.account().cash == cash


def test_unknown_ids_are_absent_and_order_is_kept(broker: Broker) -> None:
    assert broker.orders(["tf-never-sent"]) == []
    for coid in ("tf-c1", "tf-c2", "tf-c3"):
        broker.submit(_intent(coid, symbol=coid[-2:].upper().replace("C", "Q")))
    assert [o.client_order_id for o in broker.orders(["tf-c3", "tf-c1", "tf-x"])] == [
        "tf-c1", "tf-c3"]  # fmt: skip


def test_cancelling_a_terminal_order_returns_its_status(broker: Broker) -> None:
    broker.submit(_intent("tf-d-B-SPY"))
    [before] = broker.orders(["tf-d-B-SPY"])
    after = broker.cancel("tf-d-B-SPY")
    if before.status in TERMINAL:
        assert after.status == before.status


def test_fills_show_in_the_account(broker: Broker) -> None:
    start = broker.account()
    broker.submit(_intent("tf-e-B-SPY"))
    [status] = broker.orders(["tf-e-B-SPY"])
    if status.status == "filled":
        account = broker.account()
        assert {p.symbol: p.qty for p in account.positions}["SPY"] == Decimal("2")
        assert account.cash == start.cash - status.filled_qty * (status.avg_price or 0)
