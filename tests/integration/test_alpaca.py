"""Trading through Alpaca, proven against a local server that speaks Alpaca's REST contract.

No network: the server runs in the test process on 127.0.0.1 (tests/alpaca_server.py); the
adapter is the real one, on alpaca-py; `tradefsm` runs as real processes, killed with SIGKILL
at the broker failpoints and resumed.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fsm.adapters.alpaca import AlpacaBroker
from fsm.adapters.market_data import BundledMarketData
from fsm.errors import BrokerRejected, BrokerUnavailable
from fsm.pluginrecords import OrderIntent, Side
from fsm.steps.execution import settle
from tests.alpaca_server import ACCOUNT_NUMBER, KEY, SECRET, AlpacaServer
from tests.conftest import broken_links
from tests.days import today
from tests.resume.test_crash import Site


def bundled_prices() -> dict[str, Decimal]:
    """The bundled data's prices on the day the runs' clock reads (tests/days.py), weekends
    and holidays included."""
    market = BundledMarketData()
    return dict(market.prices(market.universe(), today()).prices)


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer() as running:
        running.book.prices = bundled_prices()
        yield running


def _broker(server: AlpacaServer) -> AlpacaBroker:
    return AlpacaBroker(KEY, SECRET, server.url, "acct-1")


def _intent(coid: str, qty: str = "2", side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(client_order_id=coid, symbol="AAPL", side=side, qty=Decimal(qty),
                       reference_price=Decimal("100"))  # fmt: skip


def _live(server: AlpacaServer, folder: Path, **env: str) -> Site:
    settings = {
        "TRADEFSM_BROKER": "alpaca",
        "TRADEFSM_ALPACA_API_KEY": KEY,
        "TRADEFSM_ALPACA_SECRET_KEY": SECRET,
        "TRADEFSM_ALPACA_BASE_URL": server.url,
        "TRADEFSM_LIVE_TRADING_ENABLED": "true",
        "TRADEFSM_ORDER_SETTLE_SECONDS": "2",
    }
    return Site(folder, protect=True, **(settings | env))  # fmt: skip


# ---- errors: transient or permanent, as the engine needs them ---------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "kind"),
    [(429, 3.0, BrokerUnavailable), (503, None, BrokerUnavailable),
     (500, None, BrokerUnavailable), (403, None, BrokerRejected), (422, None, BrokerRejected)],
)  # fmt: skip
def test_errors_are_transient_or_permanent(
    server: AlpacaServer, status: int, retry_after: float | None, kind: type[Exception]
) -> None:
    server.fail_next("POST /v2/orders", status, retry_after=retry_after, message="said no")
    with pytest.raises(kind, match="said no") as raised:
        _broker(server).submit(_intent("tf-err"))
    assert getattr(raised.value, "retry_after", None) == retry_after
    assert server.sent() == []  # nothing placed; a retry places it once
    assert _broker(server).submit(_intent("tf-err")).status == "filled"
    assert server.sent() == ["tf-err"]


def test_insufficient_buying_power_is_permanent_with_alpacas_message(
    server: AlpacaServer,
) -> None:
    with pytest.raises(BrokerRejected, match="insufficient buying power"):
        _broker(server).submit(_intent("tf-big", qty="100000"))


def test_an_unreachable_server_is_transient(server: AlpacaServer) -> None:
    broker = AlpacaBroker(KEY, SECRET, "http://127.0.0.1:9", "acct-1", timeout=2)
    with pytest.raises(BrokerUnavailable, match="did not answer"):
        broker.account()


# ---- statuses: partial fills, late fills, orders left open -------------------------------------


def test_a_late_fill_is_waited_for(server: AlpacaServer) -> None:
    server.book.fill_after = 0.5
    broker = _broker(server)
    assert broker.submit(_intent("tf-late")).status == "accepted"
    [status] = settle(broker, ["tf-late"], seconds=10, sleep=time.sleep)
    assert status.status == "filled"


def test_a_partial_fill_left_open_is_cancelled_and_reported_partial(server: AlpacaServer) -> None:
    server.book.fill_ratio = Decimal("0.5")
    broker = _broker(server)
    broker.submit(_intent("tf-half"))
    [status] = settle(broker, ["tf-half"], seconds=0.3, sleep=lambda s: None)
    assert (status.status, status.filled_qty) == ("partially_filled", Decimal("1.000000"))


def test_an_order_that_never_fills_is_cancelled(server: AlpacaServer) -> None:
    server.book.fill_after = 3600
    broker = _broker(server)
    broker.submit(_intent("tf-never"))
    [status] = settle(broker, ["tf-never"], seconds=0, sleep=lambda s: None)
    assert (status.status, status.filled_qty) == ("canceled", Decimal(0))


# ---- whole runs --------------------------------------------------------------------------------


def test_a_live_run_trades_through_alpaca_end_to_end(server: AlpacaServer, tmp_path: Path) -> None:
    site = _live(server, tmp_path)
    code, out, err = site.cli("run", "--mode", "live", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert run["state"] == "done"
    planned = [o["client_order_id"] for o in run["orders"]]
    assert planned
    assert server.sent() == planned
    assert {o["status"] for o in run["orders"]} == {"filled"}
    [start] = [e for e in run["transitions"] if e["event"] == "start"]
    [endpoint] = [g for g in start["guards"] if g["name"] == "broker_endpoint"]
    assert endpoint["passed"]
    assert endpoint["inputs"]["endpoint"] == server.url
    assert endpoint["inputs"]["kind"] == "live"


@pytest.mark.parametrize(
    ("mode", "env", "why"),
    [("paper", {}, "is a live endpoint"),
     ("live", {"TRADEFSM_LIVE_TRADING_ENABLED": "false"}, "TRADEFSM_LIVE_TRADING_ENABLED=true"),
     ("live", {"TRADEFSM_BROKER": "paper"}, "live mode needs a live endpoint")],
)  # fmt: skip
def test_the_endpoint_guard_refuses_a_mode_that_does_not_match(
    server: AlpacaServer, tmp_path: Path, mode: str, env: dict[str, str], why: str
) -> None:
    site = _live(server, tmp_path, **env)
    code, out, _ = site.cli("run", "--mode", mode, "--json")
    assert code == 1
    assert why in json.loads(out)["failure"]["message"]
    assert server.sent() == []


BROKER_POINTS = ("broker.before_submit", "broker.submitted", "broker.submitted@4",
                 "intent.acked", "broker.filled")  # fmt: skip


@pytest.mark.parametrize("point", BROKER_POINTS)
def test_killed_at_a_broker_failpoint_then_resumed_places_each_order_once(
    tmp_path: Path, point: str
) -> None:
    with AlpacaServer() as reference, AlpacaServer() as server:
        for book in (reference.book, server.book):
            book.prices = bundled_prices()
        assert _live(reference, tmp_path / "reference").cli("run", "--mode", "live")[0] == 0
        site = _live(server, tmp_path / "crashed")
        code, _, _ = site.cli("run", "--mode", "live", TRADEFSM_FAILPOINTS=point)
        assert code == -signal.SIGKILL, f"{point} was not reached"
        run = site.only_run()
        code, out, err = site.cli("resume", run.run_id, "--json")
        assert code == 0, err
        assert json.loads(out)["state"] == "done"
        assert server.trades() == reference.trades()
        assert set(server.trades().values()) == {1}  # one order per intent
        assert server.positions() == reference.positions()
        assert not broken_links(site.store.ledger(run.run_id))


def test_broker_check_says_which_account_and_endpoint(server: AlpacaServer, tmp_path: Path) -> None:
    site = _live(server, tmp_path)
    code, out, err = site.cli("broker", "check", "--json")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["account"] == "…" + ACCOUNT_NUMBER[-4:]
    assert ACCOUNT_NUMBER not in out
    assert (facts["kind"], facts["endpoint"], facts["buying_power"]) == (
        "live",
        server.url,
        "100000",
    )
    code, _, err = site.cli("broker", "check", TRADEFSM_ALPACA_SECRET_KEY="wrong")
    assert code == 2
    assert "Alpaca refused the credentials" in err


def test_alpaca_keys_appear_nowhere(server: AlpacaServer, tmp_path: Path) -> None:
    site = _live(server, tmp_path)
    server.fail_next("GET /v2/account", 401, message=f"bad key {KEY} / {SECRET}")
    code, out, err = site.cli("run", "--mode", "live", "--json")
    assert code == 1  # the account could not be read: the run failed, saying why
    run_id = json.loads(out)["run_id"]
    code, export, _ = site.cli("audit", "export", "--run", run_id)
    assert code == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (KEY, SECRET):
        assert secret not in out + err + export
        assert secret.encode() not in stored
