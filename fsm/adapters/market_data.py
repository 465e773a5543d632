"""Market data: a bundled deterministic generator (every session of an exchange) and a
validated CSV loader."""

from __future__ import annotations

import csv
import hashlib
import math
import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from fsm.calendar import DEFAULT_EXCHANGE, calendar_for
from fsm.errors import InvalidPriceFile, MissingMarketData
from fsm.guards import SYMBOL_PATTERN
from fsm.pluginrecords import PriceSnapshot

CENTS = Decimal("0.01")
PREVIOUS_CLOSE_DAYS = 5  # calendar days back a "previous close" may lie

# A small, liquid universe with realistic starting prices (dollars).
BUNDLED_BASE_PRICES: dict[str, int] = {
    "AAPL": 190, "MSFT": 410, "GOOGL": 160, "AMZN": 180, "NVDA": 120, "META": 500,
    "TSLA": 210, "JPM": 200, "V": 275, "XOM": 115, "JNJ": 150, "PG": 165, "KO": 62,
    "PEP": 170, "COST": 850, "WMT": 68, "UNH": 520, "HD": 360, "BND": 72, "TLT": 92,
    "GLD": 215, "SPY": 540,
}  # fmt: skip


class BundledMarketData:
    """Deterministic closing prices for the bundled universe, with no files, on the sessions
    of an exchange's calendar only (any year): a week-end or a holiday has no price of its
    own, and a day without a session answers with the session before it."""

    def __init__(self, seed: int = 7, exchange: str = DEFAULT_EXCHANGE) -> None:
        self.seed = seed
        self.calendar = calendar_for(exchange)

    def universe(self) -> tuple[str, ...]:
        return tuple(sorted(BUNDLED_BASE_PRICES))

    def closes(self, symbol: str, first: date, last: date) -> dict[date, Decimal]:
        """Every price the data holds for ``symbol`` from ``first`` to ``last``: one a session."""
        return {s.day: self._close(symbol, s.day) for s in self.calendar.sessions(first, last)}

    def price(self, symbol: str, day: date) -> Decimal:
        """The close of the last session on or before ``day``."""
        return self._close(symbol, self.calendar.last_on_or_before(day).day)

    def _close(self, symbol: str, day: date) -> Decimal:
        base = BUNDLED_BASE_PRICES.get(symbol)
        if base is None:
            raise MissingMarketData(f"no bundled prices for symbol {symbol!r}")
        phase = random.Random(f"{self.seed}:{symbol}").uniform(0, 2 * math.pi)
        noise = random.Random(f"{self.seed}:{symbol}:{day.toordinal()}").uniform(-0.02, 0.02)
        factor = 1 + 0.15 * math.sin(day.toordinal() / 40 + phase) + noise
        return (Decimal(base) * Decimal(f"{factor:.6f}")).quantize(CENTS)

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        """The closes of the last session on or before ``as_of``, and of the session before."""
        session = self.calendar.last_on_or_before(as_of).day
        before = self.calendar.last_on_or_before(date.fromordinal(session.toordinal() - 1)).day
        return PriceSnapshot(
            as_of=as_of,
            prices={s: self._close(s, session) for s in symbols},
            dates=dict.fromkeys(symbols, session),
            previous={s: self._close(s, before) for s in symbols},
        )


class CsvMarketData:
    """Prices from a CSV file with the header ``date,symbol,price`` (ISO dates, dollars).

    ``prices`` answers with each symbol's last price on or before the asked date.
    """

    def __init__(self, path: Path, window: tuple[date, date] | None = None) -> None:
        self.path = path
        self._series = load_price_file(path, window)
        # Where the prices came from, committed with each analysis (fsm.pluginports).
        self.source = {"path": str(path.resolve()), "sha256": file_sha256(path)}

    def universe(self) -> tuple[str, ...]:
        return tuple(sorted(self._series))

    def price(self, symbol: str, day: date) -> Decimal:
        return self._series[symbol][self._last_date(symbol, day)]

    def _last_date(self, symbol: str, day: date) -> date:
        known = [d for d in self._series.get(symbol, {}) if d <= day]
        if not known:
            raise MissingMarketData(f"{self.path}: no price for {symbol} on or before {day}")
        return max(known)

    def prices(self, symbols: Sequence[str], as_of: date) -> PriceSnapshot:
        """Each symbol's last price on or before ``as_of``, with its date and the close before."""
        dates = {s: self._last_date(s, as_of) for s in symbols}
        previous = {}
        for symbol, day in dates.items():
            # The close before: a week-end or holiday back at most, not an older print.
            earlier = [d for d in self._series[symbol] if 0 < (day - d).days <= PREVIOUS_CLOSE_DAYS]
            if earlier:
                previous[symbol] = self._series[symbol][max(earlier)]
        prices = {s: self._series[s][d] for s, d in dates.items()}
        return PriceSnapshot(as_of=as_of, prices=prices, dates=dates, previous=previous)


def file_sha256(path: Path) -> str:
    """SHA-256 of a price file's bytes, read in blocks."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 16):
                digest.update(block)
    except OSError as exc:
        raise InvalidPriceFile(f"{path}: cannot read price file ({exc.strerror})") from exc
    return digest.hexdigest()


def load_price_file(
    path: Path, window: tuple[date, date] | None = None
) -> dict[str, dict[date, Decimal]]:
    """The prices of a CSV file, read as a stream and checked line by line.

    With ``window`` (first, last day) only the prices in it are kept, plus each symbol's last
    price before it (so a stale file is still seen as stale): memory is bounded by what is
    kept, not by the size of the file.
    """
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark, which is not data.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_rows(path, csv.reader(handle), window)
    except OSError as exc:
        raise InvalidPriceFile(f"{path}: cannot read price file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidPriceFile(f"{path}: not UTF-8 text") from exc


def _parse_rows(
    path: Path, rows: object, window: tuple[date, date] | None
) -> dict[str, dict[date, Decimal]]:
    first, last = window or (date.min, date.max)
    series: dict[str, dict[date, Decimal]] = {}
    before: dict[str, tuple[date, Decimal]] = {}  # each symbol's last price before the window
    reader = iter(rows)  # type: ignore[call-overload]  # csv.reader is an iterator of lists
    header = [h.strip() for h in next(reader, [])]
    if [h.lower() for h in header] != ["date", "symbol", "price"]:  # quoted as written
        raise InvalidPriceFile(f"{path}:1: header must be 'date,symbol,price', got {header}")
    seen = 0
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        day, symbol, price = _parse_row(path, line, row)
        seen += 1
        if day < first:
            if symbol not in before or before[symbol][0] < day:
                before[symbol] = (day, price)
        elif day <= last:
            if day in series.setdefault(symbol, {}):
                raise InvalidPriceFile(f"{path}:{line}: duplicate price for {symbol} on {day}")
            series[symbol][day] = price
    if not seen:
        raise InvalidPriceFile(f"{path}: no prices in file")
    for symbol, (day, price) in before.items():
        series.setdefault(symbol, {})[day] = price
    return series


def _parse_row(path: Path, line: int, row: list[str]) -> tuple[date, str, Decimal]:
    if len(row) != 3:
        raise InvalidPriceFile(f"{path}:{line}: expected 3 columns, got {len(row)}")
    raw_date, symbol, raw_price = (c.strip() for c in row)
    try:
        day = date.fromisoformat(raw_date)
    except ValueError:
        raise InvalidPriceFile(f"{path}:{line}: bad date {raw_date!r} (want YYYY-MM-DD)") from None
    if not SYMBOL_PATTERN.match(symbol):
        raise InvalidPriceFile(f"{path}:{line}: bad symbol {symbol!r}")
    try:
        price = Decimal(raw_price)
    except InvalidOperation:
        raise InvalidPriceFile(f"{path}:{line}: bad price {raw_price!r}") from None
    if not price.is_finite() or price <= 0:
        raise InvalidPriceFile(f"{path}:{line}: price must be a positive number, got {raw_price!r}")
    return day, symbol, price
