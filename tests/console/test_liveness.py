"""A run nobody drives is badged stuck with the command that continues it; a run parked for
approval is not; a retry links to the run it retries and back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from fsm.clock import FixedClock
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from tests.conftest import TRADING_DAY
from tests.console.conftest import console_for, workbench


@dataclass
class History:
    url: str
    refused: RunRecord
    retry: RunRecord
    held: RunRecord
    waiting: RunRecord


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    bench = workbench(tmp_path_factory.mktemp("liveness"))
    engine_for = bench.engine_for
    refused = engine_for("beta", Settings(max_orders=2)).run(RunRequest(account_id="beta"))
    retry = engine_for("beta", Settings(), "retry").retry(refused.run_id)
    held = engine_for("zeta", Settings()).create(RunRequest(account_id="zeta"))
    waiting = engine_for("gamma", Settings(approval_notional=1000)).run(
        RunRequest(account_id="gamma")
    )
    bench.store.engine.dispose()
    return History(bench.url, refused, retry, held, waiting)


def _client(history: History, later: timedelta) -> TestClient:
    return TestClient(console_for(history.url, clock=FixedClock(TRADING_DAY + later)).app())


def test_a_run_whose_lease_expired_is_stuck_with_the_resume_command(history: History) -> None:
    client = _client(history, timedelta(days=1))
    page = client.get(f"/runs/{history.held.run_id}").text
    assert '<span class="badge stuck">stuck</span>' in page
    assert f"tradefsm resume {history.held.run_id} --actor NAME" in page
    listed = client.get("/").text
    assert listed.count(">stuck</span>") == 1
    waiting = client.get(f"/runs/{history.waiting.run_id}").text
    assert 'id="stuck"' not in waiting  # parked for a person: waiting, not stuck


def test_a_run_under_a_live_lease_is_not_stuck(history: History) -> None:
    page = _client(history, timedelta(0)).get(f"/runs/{history.held.run_id}").text
    assert 'id="stuck"' not in page


def test_a_retry_and_the_run_it_retries_link_to_each_other(history: History) -> None:
    client = _client(history, timedelta(0))
    retry = client.get(f"/runs/{history.retry.run_id}").text
    assert f'<a href="/runs/{history.refused.run_id}">' in retry
    assert 'id="retry-of"' in retry
    refused = client.get(f"/runs/{history.refused.run_id}").text
    assert 'id="retried-as"' in refused
    assert f'<a href="/runs/{history.retry.run_id}">' in refused
