"""Ctrl-C or SIGTERM during `run`: the driver stands down before its next order, releases
its lease, says how to resume, and `resume` places every order exactly once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from fsm.kinds import RunStatus
from tests import days
from tests.resume.test_crash import Site


def _wait_for_a_first_order(site: Site) -> None:
    deadline = time.monotonic() + 60
    while not site.orders_of("paper"):
        assert time.monotonic() < deadline, "the run never sent an order"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stands_down_and_resumes_each_order_once(
    db_url: str, tmp_path: Path, signum: signal.Signals
) -> None:
    # Without the broker's duplicate protection: only the engine keeps orders single.
    site = Site(tmp_path, protect=False, url=db_url, TRADEFSM_PAPER_LATENCY_MS="500")
    running = site.start("run", "--json", "--idempotency-key", "daily-1")
    _wait_for_a_first_order(site)
    running.send_signal(signum)
    out, err = running.communicate(timeout=120)
    assert running.returncode == 128 + signum.value, err
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    run_id = site.active_run()
    assert f"stopped by {signum.name} while executing" in line
    assert f"`tradefsm resume {run_id}`" in line
    stopped = site.store.get_run(run_id)
    assert (stopped.state, stopped.status) == ("executing", RunStatus.ACTIVE)
    assert stopped.lease_expires_at is not None
    assert stopped.lease_expires_at <= days.now()  # released, not left to expire
    sent_before = site.orders_of("paper")
    assert 0 < len(sent_before) < len(site.store.intents(run_id))  # it really stopped midway

    for again in (("run",), ("run", "--idempotency-key", "daily-1")):
        code, _, err = site.cli(*again)  # another run on the account, or the same key
        assert code == 5
        assert f"no process drives (stopped at executing): `tradefsm resume {run_id}`" in err

    code, out, err = site.cli("resume", run_id, "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "done"
    sent = site.orders_of("paper")
    assert len(sent) == len(set(sent))  # none twice
    assert set(sent) == {i.intent.client_order_id for i in site.store.intents(run_id)}
    assert {i.status for i in site.store.intents(run_id)} == {"filled"}
