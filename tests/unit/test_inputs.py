"""Bad input at the edge gets a typed error and a one-line message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm.adapters.market_data import CsvMarketData, load_price_file
from fsm.errors import InvalidConfiguration, InvalidDatabaseUrl, InvalidPriceFile
from fsm.redaction import REDACTED, redact
from fsm.settings import load_settings
from persistence.engine import parse_url

GOOD = "date,symbol,price\n2026-11-26,AAA,10.50\n2026-11-27,AAA,11\n2026-11-27,BBB,5\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_price_file_answers_the_last_price_on_or_before(tmp_path: Path) -> None:
    market = CsvMarketData(_write(tmp_path, GOOD))
    assert market.universe() == ("AAA", "BBB")
    snapshot = market.prices(["AAA", "BBB"], date(2026, 11, 29))
    assert snapshot.prices == {"AAA": Decimal("11"), "BBB": Decimal("5")}
    assert market.price("AAA", date(2026, 11, 26)) == Decimal("10.50")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", ":1: header"),
        ("day,symbol,price\n", ":1: header"),
        ("2026-12-04,AAA,100\n", "got ['2026-12-04', 'AAA', '100']"),  # quoted as written
        ("date,symbol,price\n2026-13-01,AAA,1\n", ":2: bad date"),
        ("date,symbol,price\n2026-11-27,aa a,1\n", ":2: bad symbol"),
        ("date,symbol,price\n2026-11-27,AAA,ten\n", ":2: bad price"),
        ("date,symbol,price\n2026-11-27,AAA,-1\n", ":2: price must be a positive"),
        ("date,symbol,price\n2026-11-27,AAA,NaN\n", ":2: price must be a positive"),
        ("date,symbol,price\n2026-11-27,AAA\n", ":2: expected 3 columns"),
        ("date,symbol,price\n2026-11-27,AAA,1\n2026-11-27,AAA,2\n", ":3: duplicate"),
        ("date,symbol,price\n\n", "no prices"),
    ],
)
def test_malformed_price_files_name_the_line(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(InvalidPriceFile) as caught:
        load_price_file(_write(tmp_path, text))
    assert where in caught.value.message
    assert "\n" not in caught.value.message


def test_missing_and_binary_price_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidPriceFile, match="cannot read"):
        load_price_file(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidPriceFile, match="UTF-8"):
        load_price_file(binary)


@given(st.text(max_size=200))
def test_any_text_either_parses_or_raises_invalid_price_file(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_text(text, encoding="utf-8")
        try:
            series = load_price_file(path)
        except InvalidPriceFile as exc:
            message = exc.message
            series = {}
        else:
            message = ""
        assert "\n" not in message
        assert all(p > 0 for s in series.values() for p in s.values())


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("TRADEFSM_CASH_RESERVE", "1.5"),
        ("TRADEFSM_MAX_ORDERS", "many"),
        ("TRADEFSM_LIVE_TRADING_ENABLED", "perhaps"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(InvalidConfiguration, match=env):
        load_settings()


def test_allowed_symbols_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEFSM_ALLOWED_SYMBOLS", "spy, qqq,")
    assert load_settings().allowed_symbols == ("SPY", "QQQ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot parse"),
        ("mysql://u@h/db", "unsupported database"),
        ("sqlite:////no/such/folder/x.db", "does not exist"),
    ],
)
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidDatabaseUrl, match=message):
        parse_url(url)


def test_postgres_urls_use_psycopg_and_keep_special_passwords() -> None:
    url = parse_url("postgresql://trader:p%40ss%3Aw%2Fd@db.example:5432/runs")
    assert url.drivername == "postgresql+psycopg"
    assert url.password == "p@ss:w/d"


def test_redaction_removes_secrets_and_account_numbers() -> None:
    text = redact(
        "api_key=abc123 token: xyz postgresql://u:hunter2@h/db account 123456789 sk-live",
        secrets=["sk-live"],
    )
    for secret in ("abc123", "xyz", "hunter2", "123456789", "sk-live"):
        assert secret not in text
    assert text.count(REDACTED) == 5
