"""What an operator types and loads: account ids, dates, spreadsheet CSVs, file names, resets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm.adapters.market_data import load_price_file
from fsm.adapters.paper_broker import PaperBroker
from fsm.errors import InvalidConfiguration, InvalidInput
from fsm.pluginrecords import OrderIntent, Side
from fsm.redaction import REDACTED, redact
from fsm.requests import RunRequest
from fsm.settings import load_settings
from tests.cli.conftest import Cli, one_line_error


@pytest.mark.parametrize("account", ["", "a\x1b[31mred", "tab\there", " lead", "x" * 65, "é"])
def test_account_ids_outside_the_safe_charset_are_refused(account: str) -> None:
    with pytest.raises(InvalidConfiguration, match="given on the command line"):
        load_settings(account_id=account)


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True))
def test_safe_account_ids_are_accepted(account: str) -> None:
    assert load_settings(account_id=account).account_id == account


def test_the_engine_refuses_an_unsafe_account_id_too(tmp_path: Path) -> None:
    from fsm.adapters.memory_store import MemoryRunStore
    from fsm.clock import FixedClock
    from tests.conftest import TRADING_DAY, make_engine_for

    engine = make_engine_for(MemoryRunStore(), PaperBroker(tmp_path / "p.db"),
                             FixedClock(TRADING_DAY))  # fmt: skip
    with pytest.raises(InvalidInput, match="not allowed"):
        engine.run(RunRequest(account_id="a\x1b[2Jb"))


def test_the_cli_says_which_input_was_wrong(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    flag = one_line_error(cli("run", "--account", "", code=2))
    assert "given on the command line" in flag
    assert "\x1b" not in one_line_error(cli("run", "--account", "a\x1b[31mx", code=2))
    cli.env["TRADEFSM_ACCOUNT_ID"] = "bad acct"
    assert "TRADEFSM_ACCOUNT_ID" in one_line_error(cli("run", code=2))


def test_a_future_as_of_is_said_to_be_in_the_future(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    failed = cli.json("run", "--as-of", "9999-12-31", "--json", code=1)
    assert "in the future" in failed["failure"]["message"]


def test_a_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_bytes(b"\xef\xbb\xbfdate,symbol,price\r\n2026-11-27,SPY,501.25\r\n")
    assert load_price_file(path) == {"SPY": {date(2026, 11, 27): Decimal("501.25")}}


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("--prices prices-20261127.csv", True),
        ("snapshot 20261127143500 loaded", True),
        ("account 123456789012 refused", False),
        ("acct 20261399 refused", False),  # not a date: month 13
        ("order 99999999", False),
    ],
)
def test_dates_in_names_survive_and_account_numbers_do_not(text: str, kept: bool) -> None:
    assert (redact(text) == text) is kept
    assert (REDACTED in redact(text)) is not kept


def test_a_paper_reset_touches_one_account_unless_all_is_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "paper.db"
    for account in ("alpha", "beta"):
        PaperBroker(path, account_id=account).submit(OrderIntent(
            client_order_id=f"tf-{account}", symbol="SPY", side=Side.BUY, qty=Decimal(1),
            reference_price=Decimal(100)))  # fmt: skip
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_PAPER_DB"] = str(path)
    cli("paper", "reset", "--account", "alpha", "--cash", "5000")
    assert PaperBroker(path, account_id="alpha").orders() == []
    assert len(PaperBroker(path, account_id="beta").orders()) == 1
    assert "--yes" in one_line_error(cli("paper", "reset", "--all", code=2))
    assert len(PaperBroker(path, account_id="beta").orders()) == 1
    cli("paper", "reset", "--all", "--yes")
    assert PaperBroker(path, account_id="beta").orders() == []


def test_a_large_price_file_is_read_as_a_stream_keeping_only_the_window(tmp_path: Path) -> None:
    import tracemalloc
    from datetime import timedelta

    path = tmp_path / "big.csv"
    start, symbols = date(2020, 1, 1), [f"S{n:03d}" for n in range(100)]
    with path.open("w", encoding="utf-8") as out:
        out.write("date,symbol,price\n")
        for d in range(2000):  # 200,000 rows over five and a half years
            day = start + timedelta(days=d)
            out.writelines(f"{day},{s},{100 + d % 7}.25\n" for s in symbols)
    last = start + timedelta(days=1999)
    tracemalloc.start()
    kept = load_price_file(path, (last - timedelta(days=30), last))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert {len(days) for days in kept.values()} == {32}  # 31 in the window + the one before
    assert peak < 8 * 2**20  # bounded by the 3,100 prices kept, not by the 200,000 read
    stale = load_price_file(path, (last + timedelta(days=100), last + timedelta(days=130)))
    assert {max(days) for days in stale.values()} == {last}  # a stale file is still seen stale
