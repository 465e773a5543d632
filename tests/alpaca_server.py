"""A local server speaking Alpaca's trading REST contract, for the endpoints the adapter uses.

Shapes follow alpaca-py's models (``Order``, ``TradeAccount``, ``Position``) and Alpaca's API
reference: ``/v2/account``, ``/v2/positions``, ``POST /v2/orders``,
``/v2/orders:by_client_order_id``, ``DELETE /v2/orders/{id}``, and of its market data API
``GET /v2/stocks/bars`` (daily bars of ``Book.bars``, paged by ``next_page_token``). It
keeps orders by ``client_order_id`` and refuses a repeated one (422) as Alpaca does, checks
the key headers (401), and can be told to fail (``fail_next``), fill partially, fill late, or
take a while to accept each new order (``order_latency``). It runs in the
test process on 127.0.0.1, so a `tradefsm` process killed mid-run leaves it as it was.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

KEY, SECRET = "PKTEST-KEY-1234567890", "test-secret-abcdefghijklmnop"
ACCOUNT_NUMBER = "PA3TESTACCT42"


@dataclass
class Failure:
    route: str  # "POST /v2/orders", "GET /v2/account", ...
    status: int
    times: int = 1
    retry_after: float | None = None
    message: str = "injected failure"


@dataclass
class Book:
    """The account and its orders, as the server keeps them."""

    cash: Decimal = Decimal("100000")
    positions: dict[str, Decimal] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)
    bars: dict[str, dict[date, Decimal]] = field(default_factory=dict)  # daily closes
    bars_asked: list[dict[str, list[str]]] = field(default_factory=list)  # each bars query
    bars_page: int = 10_000  # bars a page holds at most (Alpaca's own limit)
    fill_ratio: Decimal = Decimal(1)  # below 1: orders fill partially and keep working
    fill_after: float = 0.0  # seconds an order stays "accepted" before it fills
    failures: list[Failure] = field(default_factory=list)
    order_latency: float = 0.0  # seconds a new order takes to reach the book (a slow network)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_client_id(self, coid: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if o["client_order_id"] == coid), None)


class AlpacaServer:
    """The server and its book; ``url`` is what TRADEFSM_ALPACA_BASE_URL gets."""

    def __init__(self) -> None:
        self.book = Book()
        handler = type("Handler", (_Handler,), {"book": self.book})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> AlpacaServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def fail_next(self, route: str, status: int, **kwargs: Any) -> None:
        self.book.failures.append(Failure(route, status, **kwargs))

    def sent(self) -> list[str]:
        """Every client_order_id the server accepted, in order."""
        return [o["client_order_id"] for o in self.book.orders]

    def trades(self) -> Counter[tuple[str, str]]:
        """How many orders the server holds per (symbol, side)."""
        return Counter((o["symbol"], o["side"]) for o in self.book.orders)

    def positions(self) -> dict[str, Decimal]:
        return {s: q for s, q in self.book.positions.items() if q}


class _Handler(BaseHTTPRequestHandler):
    book: Book

    def log_message(self, *_args: Any) -> None:  # quiet: the tests read the book instead
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        if (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")) != (
            KEY, SECRET,
        ):  # fmt: skip
            self._send(401, {"code": 40110000, "message": "request is not authorized"})
            return
        route = f"{method} {url.path}"
        if route == "POST /v2/orders" and self.book.order_latency:
            time.sleep(self.book.order_latency)  # outside the lock: other calls go on
        with self.book.lock:
            failure = next((f for f in self.book.failures if route.startswith(f.route)), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self.book.failures.remove(failure)
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                self._send(failure.status, {"code": failure.status * 100000,
                                            "message": failure.message}, headers)  # fmt: skip
                return
            status, body = self._answer(method, url.path, parse_qs(url.query))
        self._send(status, body)

    def _answer(  # noqa: PLR0911  # one return per route
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        book = self.book
        _advance(book)
        if (method, path) == ("GET", "/v2/account"):
            return 200, _account(book)
        if (method, path) == ("GET", "/v2/positions"):
            return 200, [_position(s, q, book) for s, q in book.positions.items() if q]
        if (method, path) == ("POST", "/v2/orders"):
            return _place(book, json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if (method, path) == ("GET", "/v2/orders:by_client_order_id"):
            order = book.by_client_id(query.get("client_order_id", [""])[0])
            if order is None:
                return 404, {"code": 40410000, "message": "order not found"}
            return 200, _public(order)
        if (method, path) == ("GET", "/v2/stocks/bars"):
            book.bars_asked.append(query)
            return 200, _bars(book, query)
        if method == "DELETE" and path.startswith("/v2/orders/"):
            return _cancel(book, path.rsplit("/", 1)[1])
        return 404, {"code": 40410000, "message": f"no route {method} {path}"}

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _account(book: Book) -> dict[str, Any]:
    held = sum((q * book.prices.get(s, Decimal(100)) for s, q in book.positions.items()),
               Decimal(0))  # fmt: skip
    return {
        "id": "0d1e2f3a-0000-4000-8000-000000000042", "account_number": ACCOUNT_NUMBER,
        "status": "ACTIVE", "currency": "USD", "cash": str(book.cash),
        "buying_power": str(book.cash), "portfolio_value": str(book.cash + held),
        "equity": str(book.cash + held), "multiplier": "1",
    }  # fmt: skip


def _position(symbol: str, qty: Decimal, book: Book) -> dict[str, Any]:
    price = book.prices.get(symbol, Decimal(100))
    return {
        "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol,
        "exchange": "NASDAQ", "asset_class": "us_equity", "avg_entry_price": str(price),
        "qty": str(qty), "side": "long", "cost_basis": str(qty * price),
        "market_value": str(qty * price),
    }  # fmt: skip


def _place(book: Book, body: dict[str, Any]) -> tuple[int, Any]:
    coid = body.get("client_order_id") or str(uuid.uuid4())
    if book.by_client_id(coid) is not None:
        return 422, {"code": 40010001, "message": "client_order_id must be unique"}
    qty, symbol = Decimal(str(body["qty"])), body["symbol"]
    if qty <= 0 or body.get("type") != "market":
        return 422, {"code": 40010001, "message": "invalid order: qty must be > 0"}
    price = book.prices.get(symbol, Decimal(100))
    if body["side"] == "buy" and qty * price > book.cash:
        return 403, {"code": 40310000, "message": "insufficient buying power"}
    if body["side"] == "sell" and qty > book.positions.get(symbol, Decimal(0)):
        return 403, {"code": 40310000, "message": "insufficient qty available for order"}
    now = _now()
    order = {
        "id": str(uuid.uuid4()), "client_order_id": coid, "created_at": now, "updated_at": now,
        "submitted_at": now, "filled_at": None, "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL,
        symbol)), "symbol": symbol, "asset_class": "us_equity", "qty": str(qty),
        "filled_qty": "0", "filled_avg_price": None, "order_class": "simple",
        "order_type": "market", "type": "market", "side": body["side"],
        "time_in_force": body.get("time_in_force", "day"), "status": "accepted",
        "extended_hours": False, "_placed": time.monotonic(),
    }  # fmt: skip
    book.orders.append(order)
    _advance(book)
    return 200, _public(order)


def _advance(book: Book) -> None:
    """Fill every working order whose time has come (all of it, or ``fill_ratio`` of it)."""
    for order in book.orders:
        if order["status"] != "accepted" or time.monotonic() - order["_placed"] < book.fill_after:
            continue
        qty = Decimal(order["qty"])
        filled = (qty * book.fill_ratio).quantize(Decimal("0.000001"))
        price = book.prices.get(order["symbol"], Decimal(100))
        sign = 1 if order["side"] == "buy" else -1
        book.cash -= sign * filled * price
        book.positions[order["symbol"]] = book.positions.get(order["symbol"], Decimal(0)) + (
            sign * filled
        )
        order.update(filled_qty=str(filled), filled_avg_price=str(price), updated_at=_now(),
                     status="filled" if filled == qty else "partially_filled")  # fmt: skip


def _bars(book: Book, query: dict[str, list[str]]) -> dict[str, Any]:
    """Alpaca's bars answer: per symbol, one bar a day from ``start`` to before ``end``
    (timestamps at midnight New York time, as Alpaca stamps daily bars); a page holds ``limit``
    (and ``Book.bars_page``) bars at most, the next page is asked for by ``page_token``."""
    first = datetime.fromisoformat(query["start"][0].replace("Z", "+00:00")).date()
    end = datetime.fromisoformat(query["end"][0].replace("Z", "+00:00")).date()
    rows = [(symbol, day, close) for symbol in query["symbols"][0].split(",")
            for day, close in sorted(book.bars.get(symbol, {}).items())
            if first <= day < end]  # fmt: skip
    start = int(query.get("page_token", ["0"])[0])
    limit = min(int(query.get("limit", [str(book.bars_page)])[0]), book.bars_page)
    page: dict[str, list[dict[str, Any]]] = {}
    for symbol, day, close in rows[start : start + limit]:
        price = float(close)
        page.setdefault(symbol, []).append({
            "t": f"{day.isoformat()}T05:00:00Z", "o": price, "h": price, "l": price,
            "c": price, "v": 1000, "n": 10, "vw": price,
        })  # fmt: skip
    more = start + limit < len(rows)
    return {"bars": page, "next_page_token": str(start + limit) if more else None}


def _cancel(book: Book, order_id: str) -> tuple[int, Any]:
    order = next((o for o in book.orders if o["id"] == order_id), None)
    if order is None:
        return 404, {"code": 40410000, "message": "order not found"}
    if order["status"] not in ("accepted", "new", "partially_filled"):
        return 422, {"code": 40410000, "message": "order is not cancelable"}
    order.update(status="canceled", updated_at=_now(), canceled_at=_now())
    return 204, None


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}
