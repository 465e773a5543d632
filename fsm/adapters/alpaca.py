"""Alpaca as the broker port, on alpaca-py (the official SDK).

How Alpaca's behaviour maps onto the contract of ``fsm.ports.Broker``:

- A repeated ``client_order_id`` is refused by Alpaca (HTTP 422, "client_order_id must be
  unique"): ``DuplicateClientOrderId``, and the engine reconciles by looking the order up by
  its client order id; it never sends a second order.
- HTTP 429 (its ``Retry-After`` honoured), 5xx, timeouts and refused connections are transient
  (``BrokerUnavailable``); 401/403 (bad keys, insufficient buying power, forbidden) and 422
  (invalid order) are permanent (``BrokerRejected``, with Alpaca's message).
- Statuses: ``filled`` is filled; ``canceled``/``expired``/``done_for_day``/``replaced`` are
  canceled or expired, or ``partially_filled`` when some quantity filled; ``rejected`` is
  rejected; every other status (``new``, ``accepted``, ``pending_new``,
  ``partially_filled`` while still working, ``held``, ...) is ``new``: still open.
- Market orders are ``day`` orders. Outside market hours Alpaca accepts and queues them; the
  executing step waits ``TRADEFSM_ORDER_SETTLE_SECONDS`` for them to settle, then cancels what
  is still open and the run fails its ``orders_terminal`` guard (documented in docs/brokers.md).

The SDK is imported when the adapter is built (it loads pandas): nothing else pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fsm.errors import (
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    InvalidConfiguration,
    MarketDataRejected,
    TradeFsmError,
    TransientError,
)
from fsm.pluginrecords import AccountSnapshot, OrderAck, OrderIntent, OrderStatus, Position, Side

T = TypeVar("T")
DONE = {"filled": "filled", "rejected": "rejected", "canceled": "canceled",
        "expired": "expired", "done_for_day": "expired", "replaced": "canceled"}  # fmt: skip
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class AlpacaBroker:
    """One Alpaca trading account (paper or live, by ``base_url``) as the ``Broker`` port.

    ``account_id`` is tradefsm's name for the account (runs are keyed by it); Alpaca's own
    account number is only shown, redacted, by ``tradefsm broker check``.
    """

    def __init__(
        self, api_key: str, secret_key: str, base_url: str, account_id: str, *,
        timeout: float = 10.0,
    ) -> None:  # fmt: skip
        try:
            from alpaca.trading.client import TradingClient  # noqa: PLC0415  # see module doc
        except ImportError as exc:
            raise InvalidConfiguration(
                "TRADEFSM_BROKER=alpaca needs the Alpaca SDK: pip install 'tradefsm[alpaca]'"
            ) from exc

        self.account_id = account_id
        self.base_url = base_url
        client = TradingClient(api_key, secret_key, url_override=base_url)
        self._client: Any = without_sdk_retries(client, timeout)

    # ---- the port ---------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        account = self._call(self._client.get_account)
        positions = self._call(self._client.get_all_positions)
        return AccountSnapshot(
            account_id=self.account_id,
            cash=Decimal(str(account.cash)),
            buying_power=Decimal(str(account.buying_power)),
            positions=tuple(Position(symbol=p.symbol, qty=Decimal(str(p.qty))) for p in positions),
        )

    def submit(self, intent: OrderIntent) -> OrderAck:
        from alpaca.trading.enums import OrderSide, TimeInForce  # noqa: PLC0415
        from alpaca.trading.requests import MarketOrderRequest  # noqa: PLC0415

        request = MarketOrderRequest(
            symbol=intent.symbol, qty=float(intent.qty), client_order_id=intent.client_order_id,
            side=OrderSide.BUY if intent.side is Side.BUY else OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
        )  # fmt: skip
        try:
            order = self._call(lambda: self._client.submit_order(request))
        except BrokerRejected as exc:
            if "client_order_id must be unique" in exc.message:
                raise DuplicateClientOrderId(intent.client_order_id) from exc
            raise
        said = _order_status(order)  # what it filled at once, if anything
        return OrderAck(client_order_id=order.client_order_id, broker_order_id=str(order.id),
                        status=_status_value(order.status), filled_qty=said.filled_qty,
                        avg_price=said.avg_price)  # fmt: skip

    def orders(self, client_order_ids: Sequence[str]) -> list[OrderStatus]:
        found = [order for coid in client_order_ids if (order := self._by_client_id(coid))]
        found.sort(key=lambda order: order.created_at)  # submission order
        return [_order_status(order) for order in found]

    def cancel(self, client_order_id: str) -> OrderStatus:
        order = self._by_client_id(client_order_id)
        if order is None:
            raise BrokerRejected(f"no order {client_order_id} at Alpaca to cancel")
        if _order_status(order).status == "new":
            self._call(lambda: self._client.cancel_order_by_id(order.id))
            order = self._by_client_id(client_order_id) or order
        return _order_status(order)

    def describe(self) -> dict[str, str]:
        """What `tradefsm broker check` shows: the account (its number redacted), its buying
        power and the endpoint; BrokerRejected when the keys are refused."""
        account = self._call(self._client.get_account)
        number = str(account.account_number)
        return {"account": "…" + number[-4:], "buying_power": str(account.buying_power),
                "cash": str(account.cash), "endpoint": self.base_url}  # fmt: skip

    # ---- Alpaca's errors as the port's --------------------------------------------------------

    def _by_client_id(self, client_order_id: str) -> Any:
        try:
            return self._call(lambda: self._client.get_order_by_client_id(client_order_id))
        except BrokerRejected as exc:
            if exc.status_code == 404:
                return None
            raise

    def _call(self, request: Callable[[], T]) -> T:
        return call_alpaca(request, self.base_url, BROKER_ERRORS)


@dataclass(frozen=True)
class AlpacaErrors:
    """The errors a call to Alpaca becomes: ``unavailable`` for what a retry may fix (429 with
    its Retry-After, 5xx, timeouts, refused connections), ``refused`` (with ``status_code``)
    for the rest (401/403 bad keys or not allowed, 404, 422 invalid)."""

    unavailable: type[TransientError]
    refused: type[BrokerRejected | MarketDataRejected]


BROKER_ERRORS = AlpacaErrors(BrokerUnavailable, BrokerRejected)


def call_alpaca(request: Callable[[], T], base_url: str, errors: AlpacaErrors) -> T:
    """``request``'s answer; Alpaca's errors as ``errors`` say (one policy for every client)."""
    from alpaca.common.exceptions import APIError  # noqa: PLC0415
    from requests import RequestException  # noqa: PLC0415

    try:
        return request()
    except APIError as exc:
        raise _classified(exc, errors) from exc
    except RequestException as exc:
        raise errors.unavailable(
            f"Alpaca did not answer at {_shown(base_url)}: {type(exc).__name__}"
        ) from exc


def _shown(url: str) -> str:
    """The endpoint without any user or password written into it."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _classified(exc: Any, errors: AlpacaErrors) -> TradeFsmError:
    status = exc.status_code
    message = _message(str(exc))
    if status in TRANSIENT_STATUS:
        error = errors.unavailable(f"Alpaca answered {status}: {message}")
        retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
        error.retry_after = float(retry_after) if retry_after else None
        return error
    rejected = errors.refused(f"Alpaca refused ({status}): {message}")
    rejected.status_code = status
    return rejected


def _message(body: str) -> str:
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return body.strip()[:200]


def _status_value(value: Any) -> str:
    """An SDK enum's value (or the string the server sent)."""
    return str(getattr(value, "value", value))


def _order_status(order: Any) -> OrderStatus:
    raw = _status_value(order.status)
    filled = Decimal(str(order.filled_qty or 0))
    status = DONE.get(raw, "new")
    if status in ("canceled", "expired") and filled > 0:
        status = "partially_filled"  # it ended with part of the quantity filled
    price = order.filled_avg_price
    return OrderStatus(
        client_order_id=order.client_order_id,
        broker_order_id=str(order.id),
        symbol=order.symbol,
        side=Side.BUY if _status_value(order.side) == "buy" else Side.SELL,
        qty=Decimal(str(order.qty)),
        filled_qty=filled,
        avg_price=Decimal(str(price)) if price not in (None, "", "0") else None,
        status=status,  # one of OrderStatus's literals, by DONE
    )


def without_sdk_retries(client: Any, timeout: float) -> Any:
    """``client`` (an alpaca-py REST client) with no silent retries of its own, errors being
    classified here, and a ``timeout`` on every request."""
    client._retry = 0
    client._session = _session_with_timeout(timeout)
    return client


def _session_with_timeout(timeout: float) -> Any:
    """A requests session whose every request gives up after ``timeout`` seconds."""
    import requests  # noqa: PLC0415

    class Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    return Session()
