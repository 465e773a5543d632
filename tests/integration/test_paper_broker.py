"""The paper broker behaves like an external broker, with its own SQLite file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.errors import DuplicateClientOrderId
from fsm.pluginrecords import OrderIntent, Side


def _intent(
    coid: str, side: Side, qty: str, price: str = "100", symbol: str = "AAA"
) -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol=symbol, side=side, qty=Decimal(qty),
                       reference_price=Decimal(price))  # fmt: skip


def test_a_new_account_has_100k_cash_and_keeps_it_across_opens(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db")
    assert broker.account().cash == Decimal(100000)
    broker.submit(_intent("a", Side.BUY, "10"))
    again = PaperBroker(tmp_path / "p.db").account()
    assert again.cash == Decimal(99000)
    assert [(p.symbol, p.qty) for p in again.positions] == [("AAA", Decimal(10))]


def test_fills_at_the_reference_price_and_sells_close_positions(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db")
    ack = broker.submit(_intent("buy", Side.BUY, "2.5", "40.10"))
    assert (ack.status, ack.broker_order_id) == ("filled", "paper-1")
    broker.submit(_intent("sell", Side.SELL, "2.5", "50"))
    account = broker.account()
    assert account.positions == ()
    assert account.cash == Decimal(100000) - Decimal("100.25") + Decimal("125.00")
    [status] = broker.orders(["buy"])
    assert (status.filled_qty, status.avg_price) == (Decimal("2.5"), Decimal("40.10"))


def test_a_duplicate_client_order_id_is_rejected_with_a_typed_error(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db")
    broker.submit(_intent("same", Side.BUY, "1"))
    with pytest.raises(DuplicateClientOrderId) as caught:
        broker.submit(_intent("same", Side.BUY, "1"))
    assert caught.value.client_order_id == "same"
    assert len(broker.orders()) == 1
    assert broker.account().cash == Decimal(99900)


def test_without_duplicate_protection_a_second_order_goes_through(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db", reject_duplicates=False)
    broker.submit(_intent("same", Side.BUY, "1"))
    broker.submit(_intent("same", Side.BUY, "1"))
    assert [o.client_order_id for o in broker.orders(["same"])] == ["same", "same"]
    assert broker.account().cash == Decimal(99800)


def test_orders_beyond_cash_or_holdings_are_rejected(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db")
    assert broker.submit(_intent("big", Side.BUY, "1001")).status == "rejected"
    assert broker.submit(_intent("short", Side.SELL, "1")).status == "rejected"
    assert broker.account().cash == Decimal(100000)
    assert {o.status for o in broker.orders()} == {"rejected"}


def test_reset_forgets_orders_and_positions(tmp_path: Path) -> None:
    broker = PaperBroker(tmp_path / "p.db")
    broker.submit(_intent("a", Side.BUY, "1"))
    broker.reset(Decimal("2500.50"))
    assert broker.orders() == []
    assert broker.account().cash == Decimal("2500.50")
    assert broker.account().positions == ()
