"""The paper broker: a real component with its own SQLite file (stdlib sqlite3).

From the engine's view it is an external system: it keeps, per account, cash ($100,000 for
an account it has not seen), positions and orders; it fills
market orders at the intent's reference (snapshot) price, and — like a real broker — rejects a
second order with a ``client_order_id`` it already holds.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote

from fsm.errors import DuplicateClientOrderId, InvalidInput, TradeFsmError
from fsm.pluginrecords import AccountSnapshot, OrderAck, OrderIntent, OrderStatus, Position, Side

DEFAULT_CASH = Decimal("100000")
MAX_CASH = Decimal("1000000000000")  # a trillion dollars: plans stay within Decimal's precision
CENTS = Decimal("0.01")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, cash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL, symbol TEXT NOT NULL, qty TEXT NOT NULL,
    PRIMARY KEY (account_id, symbol)
);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
    filled_qty TEXT NOT NULL, avg_price TEXT, status TEXT NOT NULL, reason TEXT
);
CREATE INDEX IF NOT EXISTS ix_orders_client_order_id ON orders (client_order_id)
"""


class PaperBroker:
    def __init__(
        self,
        path: Path,
        *,
        account_id: str = "paper",
        reject_duplicates: bool = True,
        latency_s: float = 0.0,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.account_id = account_id
        self.reject_duplicates = reject_duplicates
        self.latency_s = latency_s
        self.read_only = read_only  # look, never write: an archived or read-only file works
        if read_only:
            if not self.path.is_file():
                raise TradeFsmError(f"no paper broker file {self.path}")
            return
        try:
            with self._tx() as db:
                for statement in _SCHEMA.split(";"):
                    db.execute(statement)
                db.execute(
                    "INSERT OR IGNORE INTO accounts VALUES (?, ?)", (account_id, str(DEFAULT_CASH))
                )
        except sqlite3.Error as exc:
            raise TradeFsmError(f"cannot open paper broker file {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the filling writer
            db.execute("PRAGMA synchronous=FULL")  # a fill must survive power loss
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: no lost cash updates
            return db
        writable = os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        flags = "mode=ro" if writable else "mode=ro&immutable=1"
        db = sqlite3.connect(f"file:{quote(str(self.path))}?{flags}", uri=True,
                             isolation_level=None, timeout=30)  # fmt: skip
        db.execute("BEGIN")
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _wait(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)

    def account(self) -> AccountSnapshot:
        self._wait()
        with self._tx() as db:
            cash = self._cash(db)
            rows = db.execute(
                "SELECT symbol, qty FROM positions WHERE account_id = ? ORDER BY symbol",
                (self.account_id,),
            ).fetchall()
        return AccountSnapshot(
            account_id=self.account_id,
            cash=cash,
            buying_power=cash,
            positions=tuple(Position(symbol=s, qty=Decimal(q)) for s, q in rows),
        )

    def submit(self, intent: OrderIntent) -> OrderAck:
        self._wait()
        with self._tx() as db:
            exists = db.execute(
                "SELECT 1 FROM orders WHERE account_id = ? AND client_order_id = ?",
                (self.account_id, intent.client_order_id),
            ).fetchone()
            if exists and self.reject_duplicates:
                raise DuplicateClientOrderId(intent.client_order_id)
            status, reason = self._fill(db, intent)
            filled = status == "filled"
            cur = db.execute(
                "INSERT INTO orders (account_id, client_order_id, symbol, side, qty, filled_qty,"
                " avg_price, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.account_id,
                    intent.client_order_id,
                    intent.symbol,
                    intent.side.value,
                    str(intent.qty),
                    str(intent.qty if filled else Decimal(0)),
                    str(intent.reference_price) if filled else None,
                    status,
                    reason,
                ),
            )
        return OrderAck(
            client_order_id=intent.client_order_id,
            broker_order_id=f"paper-{cur.lastrowid}",
            status=status,
            filled_qty=intent.qty if filled else Decimal(0),
            avg_price=intent.reference_price if filled else None,
        )

    def _fill(self, db: sqlite3.Connection, intent: OrderIntent) -> tuple[str, str | None]:
        cash = self._cash(db)
        row = db.execute(
            "SELECT qty FROM positions WHERE account_id = ? AND symbol = ?",
            (self.account_id, intent.symbol),
        ).fetchone()
        held = Decimal(row[0]) if row else Decimal(0)
        cost = (intent.qty * intent.reference_price).quantize(CENTS, rounding=ROUND_HALF_UP)
        if intent.side is Side.BUY and cost > cash:
            return "rejected", f"insufficient buying power: needs {cost}, has {cash}"
        if intent.side is Side.SELL and intent.qty > held:
            return "rejected", f"cannot sell {intent.qty}, holds {held}"
        sign = 1 if intent.side is Side.BUY else -1
        new_qty = held + sign * intent.qty
        db.execute(
            "UPDATE accounts SET cash = ? WHERE account_id = ?",
            (str(cash - sign * cost), self.account_id),
        )
        if new_qty == 0:
            db.execute(
                "DELETE FROM positions WHERE account_id = ? AND symbol = ?",
                (self.account_id, intent.symbol),
            )
        else:
            db.execute(
                "INSERT INTO positions VALUES (?, ?, ?)"
                " ON CONFLICT(account_id, symbol) DO UPDATE SET qty = excluded.qty",
                (self.account_id, intent.symbol, str(new_qty)),
            )
        return "filled", None

    def orders(self, client_order_ids: Sequence[str] | None = None) -> list[OrderStatus]:
        """Orders by ``client_order_id`` (all orders when None), in submission order."""
        self._wait()
        with self._tx() as db:
            rows = db.execute(
                "SELECT seq, client_order_id, symbol, side, qty, filled_qty, avg_price, status"
                " FROM orders WHERE account_id = ? ORDER BY seq",
                (self.account_id,),
            ).fetchall()
        wanted = None if client_order_ids is None else set(client_order_ids)
        return [_status(r) for r in rows if wanted is None or r[1] in wanted]

    def cancel(self, client_order_id: str) -> OrderStatus:
        # paper orders fill at once: cancelling one that is already terminal counts as cancelled
        found = self.orders([client_order_id])
        if not found:
            raise TradeFsmError(f"the paper broker has no order {client_order_id!r}")
        return found[0]

    def positions(self) -> list[Position]:
        return list(self.account().positions)

    def reset(self, cash: Decimal, *, every_account: bool = False) -> None:
        """Forget this account's orders and positions (every account's with ``every_account``);
        this account starts again with ``cash``."""
        cash = cash_amount(str(cash))
        where, args = ("", ()) if every_account else (" WHERE account_id = ?", (self.account_id,))
        with self._tx() as db:
            for table in ("orders", "positions", "accounts"):
                db.execute(f"DELETE FROM {table}{where}", args)
            db.execute("INSERT INTO accounts VALUES (?, ?)", (self.account_id, str(cash)))

    def _cash(self, db: sqlite3.Connection) -> Decimal:
        row = db.execute(
            "SELECT cash FROM accounts WHERE account_id = ?", (self.account_id,)
        ).fetchone()
        if row is None:  # an account first seen after a reset starts with the default cash
            if self.read_only:
                return DEFAULT_CASH
            db.execute("INSERT INTO accounts VALUES (?, ?)", (self.account_id, str(DEFAULT_CASH)))
            return DEFAULT_CASH
        return Decimal(row[0])


def cash_amount(text: str, name: str = "cash") -> Decimal:
    """A paper account's cash from ``text``: a number of dollars from 0 to ``MAX_CASH``
    (one-line InvalidInput naming ``name`` otherwise: NaN, infinity, negative, huge)."""
    try:
        cash = Decimal(text.strip())
    except InvalidOperation:
        cash = Decimal("NaN")
    if not cash.is_finite() or not 0 <= cash <= MAX_CASH:
        raise InvalidInput(f"{name} must be a number of dollars from 0 to {MAX_CASH:,}, "
                           f"got {text!r}")  # fmt: skip
    return cash


def _status(row: tuple[object, ...]) -> OrderStatus:
    seq, coid, symbol, side, qty, filled, avg, status = row
    return OrderStatus.model_validate(
        {
            "client_order_id": coid,
            "broker_order_id": f"paper-{seq}",
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "filled_qty": filled,
            "avg_price": avg,
            "status": status,
        }
    )
