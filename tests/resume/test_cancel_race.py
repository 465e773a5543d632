"""Cancelling a run another process is executing: nothing is sent after `cancel` returns,
and the run and the broker agree on every order (a filled order shows filled)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from tests.alpaca_server import AlpacaServer
from tests.integration.test_alpaca import _broker, _live, bundled_prices
from tests.resume.test_crash import Site
from tests.resume.test_interrupts import _wait_for_a_first_order


@pytest.mark.parametrize("trial", range(2))
def test_cancel_stops_the_driving_process_before_reconciling(
    db_url: str, tmp_path: Path, trial: int
) -> None:
    site = Site(tmp_path, protect=False, url=db_url, TRADEFSM_PAPER_LATENCY_MS="700")
    driving = site.start("run")
    _wait_for_a_first_order(site)
    time.sleep(0.05 * trial)  # cancel at another point of the driver's broker call
    run_id = site.active_run()
    code, _, err = site.cli("cancel", run_id, "--actor", "ops", "--reason", "stop")
    assert code == 0, err
    sent_when_cancelled = {o.client_order_id: o.status for o in PaperBroker(site.paper).orders()}
    _, err = driving.communicate(timeout=120)
    assert "Traceback" not in err
    assert driving.returncode == 5, err  # fenced out: it stopped without writing
    broker = {o.client_order_id: o.status for o in PaperBroker(site.paper).orders()}
    assert broker == sent_when_cancelled  # nothing was sent after cancel returned
    run = site.store.get_run(run_id)
    assert (run.state, run.failure["error_type"]) == ("failed", "Cancelled")  # type: ignore[index]
    recorded = {i.intent.client_order_id: i.status for i in site.store.intents(run_id)}
    assert {coid: recorded[coid] for coid in broker} == broker  # filled shows filled
    assert {s for coid, s in recorded.items() if coid not in broker} <= {"cancelled"}


@pytest.mark.parametrize("trial", range(3))
def test_cancel_race_against_the_alpaca_server(tmp_path: Path, trial: int) -> None:
    """The same race through the Alpaca adapter and a local Alpaca server whose order
    submissions are slow: the server and the run agree on every order, in every trial."""
    with AlpacaServer() as server:
        server.book.prices = bundled_prices()
        server.book.order_latency = 3.0  # the run is still sending when `cancel` starts
        site = _live(server, tmp_path)
        driving = site.start("run", "--mode", "live")
        deadline = time.monotonic() + 120
        while not server.sent():
            assert time.monotonic() < deadline, "the run never sent an order"
            time.sleep(0.02)
        time.sleep(0.05 * trial)  # cancel at another point of the driver's broker call
        run_id = site.active_run()
        code, _, err = site.cli("cancel", run_id, "--actor", "ops", "--reason", "stop")
        assert code == 0, err
        sent_when_cancelled = server.sent()
        _, err = driving.communicate(timeout=120)
        assert "Traceback" not in err
        assert driving.returncode == 5, err  # it stood down without writing
        assert server.sent() == sent_when_cancelled  # nothing was sent after cancel returned
        run = site.store.get_run(run_id)
        assert (run.state, run.failure["error_type"]) == ("failed", "Cancelled")  # type: ignore[index]
        recorded = {i.intent.client_order_id: i.status for i in site.store.intents(run_id)}
        broker = {o.client_order_id: o.status for o in _broker(server).orders(list(recorded))}
        assert {coid: recorded[coid] for coid in broker} == broker  # filled shows filled
        assert {s for coid, s in recorded.items() if coid not in broker} <= {"cancelled"}
