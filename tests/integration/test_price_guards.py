"""Stale or absurd market data never trades: the guards refuse, naming symbol, date, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.days import day

pytestmark = pytest.mark.dated
AS_OF = day()
EVE = day(-1)


def _site(tmp_path: Path, rows: list[str], **env: str) -> tuple[Cli, Path]:
    cli = Cli(tmp_path)
    cli.env.update(env)
    cli.upgrade()
    prices = tmp_path / "prices.csv"
    prices.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return cli, prices


def _refused(cli: Cli, prices: Path, as_of: str = AS_OF) -> dict[str, object]:
    run = cli.json("run", "--prices", str(prices), "--as-of", as_of, "--json", code=1)
    refused = [g for row in run["transitions"] for g in row["guards"] if not g["passed"]]
    assert cli.json("paper", "orders", "--format", "json") == []  # nothing was sent
    assert len(refused) == 1, refused
    return dict(refused[0])


def test_prices_months_old_do_not_trade(tmp_path: Path) -> None:
    old, older = day(-150), day(-180)
    cli, prices = _site(tmp_path, [f"{older},SPY,500", f"{old},SPY,510", f"{old},TLT,90"])
    guard = _refused(cli, prices)
    assert guard["name"] == "prices_fresh"
    assert old in str(guard["reason"])
    assert guard["inputs"]["against"] == AS_OF  # type: ignore[index]


@pytest.mark.parametrize(("price", "shown"), [("0.0000000001", "1E-10"), ("1e400", "1E+400")])
def test_absurd_prices_do_not_trade(tmp_path: Path, price: str, shown: str) -> None:
    cli, prices = _site(tmp_path, [f"{EVE},SPY,{price}", f"{AS_OF},SPY,{price}",
                                   f"{AS_OF},TLT,90"])  # fmt: skip
    guard = _refused(cli, prices)
    assert (guard["name"], guard["inputs"]["refused"]) == ("prices_sane", "1")  # type: ignore[index]
    assert "SPY" in str(guard["reason"])


def test_a_price_that_jumps_from_the_close_before_does_not_trade(tmp_path: Path) -> None:
    cli, prices = _site(tmp_path, [f"{EVE},SPY,500", f"{AS_OF},SPY,5000",
                                   f"{AS_OF},TLT,90"])  # fmt: skip
    guard = _refused(cli, prices)
    assert guard["name"] == "prices_sane"
    assert "SPY moved 900.0%" in str(guard["reason"])


def test_an_order_larger_than_the_share_limit_does_not_trade(tmp_path: Path) -> None:
    cli, prices = _site(tmp_path, [f"{EVE},SPY,500", f"{AS_OF},SPY,501",
                                   f"{AS_OF},TLT,90"], TRADEFSM_MAX_ORDER_QTY="10")  # fmt: skip
    guard = _refused(cli, prices)
    assert guard["name"] == "order_qty_limit"


def test_a_price_missing_from_the_file_fails_at_once_without_retries(tmp_path: Path) -> None:
    cli, prices = _site(tmp_path, [f"{AS_OF},SPY,500"])
    cli("run")  # bundled prices: the account now holds symbols the file lacks
    run = cli.json("run", "--prices", str(prices), "--as-of", AS_OF, "--json", code=1)
    assert run["failure"]["error_type"] == "MissingMarketData"
    assert "no price for" in run["failure"]["message"]
    attempts = cli.json("runs", "show", run["run_id"], "--format", "json")["attempts"]
    assert [a["attempt"] for a in attempts if a["state"] == "analyzing"] == [1]
