"""A portfolio file of two strategies with weights: one combined plan, each strategy's share
kept in the signal checkpoint, the file's hash committed with the run."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm.clock import FixedClock
from fsm.display import inputs_summary
from fsm.engine import Engine
from fsm.errors import InvalidConfiguration
from fsm.ids import SequentialIdFactory
from fsm.pluginports import plugged_ports
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.console.conftest import console_for

PORTFOLIO = """
[[strategies]]
name = "demo-momentum"
weight = "0.5"
options = { picks = 2 }

[[strategies]]
name = "sixty-forty"
weight = "0.4"
"""


def _engine(url: str, tmp_path: Path, text: str) -> Engine:
    path = tmp_path / "portfolio.toml"
    path.write_text(text, encoding="utf-8")
    settings = Settings(actor="quant-qi", paper_db=tmp_path / "paper.db", strategy="portfolio",
                        plugin_options={"portfolio": {"file": str(path)}})  # fmt: skip
    ports = plugged_ports(settings, TRADING_DAY.date())
    store = SqlRunStore(make_engine(url))
    return Engine(store, ports, settings, FixedClock(TRADING_DAY), SequentialIdFactory())


def test_two_strategies_make_one_plan_with_each_share_kept(sqlite_url: str, tmp_path: Path) -> None:
    migrate.upgrade(make_engine(sqlite_url))
    engine = _engine(sqlite_url, tmp_path, PORTFOLIO)
    run = engine.run(RunRequest(account_id="paper"))
    assert run.state == "done"
    [signals] = [c.output for c in engine.store.checkpoints(run.run_id)
                 if c.state == "generating_signals"]  # fmt: skip
    shares = signals["contributions"]
    assert set(shares) == {"demo-momentum", "sixty-forty"}
    assert shares["sixty-forty"] == {"BND": "0.160000", "SPY": "0.240000"}
    assert len(shares["demo-momentum"]) == 2
    assert set(shares["demo-momentum"].values()) == {"0.250000"}
    summed: dict[str, Decimal] = {}
    for share in shares.values():
        for symbol, weight in share.items():
            summed[symbol] = summed.get(symbol, Decimal(0)) + Decimal(weight)
    assert {t["symbol"]: Decimal(t["weight"]) for t in signals["targets"]} == summed
    shown = inputs_summary(
        [c.model_dump(mode="json") for c in engine.store.checkpoints(run.run_id)]
    )
    assert "  from sixty-forty: BND 16.0%, SPY 24.0%" in shown  # as `runs show` prints it
    committed = run.params["strategy"]
    assert committed["name"] == "portfolio"
    assert committed["sha256"] == hashlib.sha256(PORTFOLIO.encode()).hexdigest()
    members = json.loads(committed["strategies"])
    assert [(m["name"], m["weight"]) for m in members] == [("demo-momentum", "0.5"),
                                                           ("sixty-forty", "0.4")]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (PORTFOLIO.replace('"0.4"', '"0.6"'), "the weights sum to more than 1"),
        (PORTFOLIO.replace("sixty-forty", "demo-momentum"), "names a different strategy"),
        ("", "no [[strategies]]"),
        (PORTFOLIO.replace("sixty-forty", "nope"), "no strategy plugin named 'nope'"),
        (PORTFOLIO.replace('"0.4"', '"NaN"'), "needs a weight above 0 and at most 1"),
        (PORTFOLIO.replace('"0.4"', "nan"), "needs a weight above 0 and at most 1"),
    ],
)
def test_a_bad_portfolio_file_is_refused_naming_it(
    sqlite_url: str, tmp_path: Path, text: str, said: str
) -> None:
    with pytest.raises(InvalidConfiguration, match="strategy plugin 'portfolio'") as caught:
        _engine(sqlite_url, tmp_path, text)
    assert said in caught.value.message
    assert "portfolio.toml: " in caught.value.message  # the file is named


def test_the_console_shows_the_shares_and_where_the_prices_came_from(
    sqlite_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(make_engine(sqlite_url))
    prices = tmp_path / "prices.csv"
    rows = [f"{(TRADING_DAY - timedelta(days=d)).date()},{s},{p}"
            for d in (21, 1) for s, p in (("SPY", 540), ("BND", 72))]  # fmt: skip
    prices.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")
    portfolio = tmp_path / "portfolio.toml"
    portfolio.write_text('[[strategies]]\nname = "sixty-forty"\nweight = "0.5"\n', encoding="utf-8")
    settings = Settings(actor="quant-qi", paper_db=tmp_path / "paper.db", strategy="portfolio",
                        plugin_options={"portfolio": {"file": str(portfolio)}})  # fmt: skip
    ports = plugged_ports(settings, TRADING_DAY.date(), prices)
    engine = Engine(SqlRunStore(make_engine(sqlite_url)), ports, settings,
                    FixedClock(TRADING_DAY), SequentialIdFactory())  # fmt: skip
    run = engine.run(RunRequest(account_id="paper"))
    page = TestClient(console_for(sqlite_url).app()).get(f"/runs/{run.run_id}").text

    assert "<td>sixty-forty</td><td>BND 20.0%, SPY 30.0%</td>" in page
    file_sha256 = hashlib.sha256(prices.read_bytes()).hexdigest()
    assert f"csv 0.1.0: {prices.resolve()} (sha256 {file_sha256})" in page
    portfolio_sha256 = hashlib.sha256(portfolio.read_bytes()).hexdigest()
    assert f"portfolio 0.1.0: {portfolio.resolve()} (sha256 {portfolio_sha256})" in page
