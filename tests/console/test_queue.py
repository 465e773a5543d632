"""The approval queue: per waiting run its total against the approval limit, since when it
waits, its deadline and the time left, its price dates and the commands to decide it."""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm import display
from fsm.clock import FixedClock
from fsm.console import queue
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.console.conftest import console_for, workbench


@dataclass
class Queue:
    url: str
    soon: RunRecord  # a deadline 15 minutes after it parked
    later: RunRecord  # an hour after
    open: RunRecord  # no deadline
    total: str  # what the approval_needed guard recorded (the same plan for all three)


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Queue:
    bench = workbench(tmp_path_factory.mktemp("queue"))

    def park(account: str, timeout: float | None) -> RunRecord:
        settings = Settings(approval_notional=1000, approval_timeout_seconds=timeout)
        return bench.engine_for(account, settings).run(RunRequest(account_id=account))  # type: ignore[no-any-return]

    # parked in the order the queue does not show them: by deadline, not by creation
    later, open_, soon = park("later", 3600), park("open", None), park("soon", 900)
    last = bench.store.ledger(soon.run_id)[-1]
    [guard] = [g for g in last.guards if g.name == "approval_needed"]
    bench.store.engine.dispose()
    return Queue(bench.url, soon, later, open_, str(guard.inputs["total"]))


def _page(queue_: Queue, minutes: float) -> str:
    """The queue ``minutes`` after the runs parked (half minutes: clear of the rounding)."""
    clock = FixedClock(TRADING_DAY + timedelta(minutes=minutes))
    return TestClient(console_for(queue_.url, clock=clock).app()).get("/approvals").text


def _section(page: str, run: RunRecord) -> str:
    found = re.search(rf'<section class="waiting" id="waiting-{run.run_id}">(.*?)</section>',
                      page, re.S)  # fmt: skip
    assert found, run.run_id
    return html.unescape(found.group(1))


def test_the_soonest_deadline_comes_first(waiting: Queue) -> None:
    page = _page(waiting, 5.5)
    order = [page.index(f'id="waiting-{r.run_id}"') for r in (waiting.soon, waiting.later,
                                                               waiting.open)]  # fmt: skip
    assert order == sorted(order)


def test_the_total_is_against_the_policy_limit(waiting: Queue) -> None:
    shown = _section(_page(waiting, 5.5), waiting.soon)
    assert f"{display.money(waiting.total)} against the approval limit $1,000.00" in shown
    assert "(setting approval_notional, policy v1)" in shown


def test_waiting_since_and_the_time_left(waiting: Queue) -> None:
    page = _page(waiting, 5.5)
    soon, later, open_ = (_section(page, r) for r in (waiting.soon, waiting.later, waiting.open))
    parked = display.when(datetime.fromisoformat(_parked_at(waiting)))
    assert f"{parked} UTC (5 min)" in soon
    assert "— in 9 min" in soon
    assert "— in 54 min" in later
    assert "none: it waits until approved, rejected or cancelled" in open_


def test_a_passed_deadline_is_red(waiting: Queue) -> None:
    page = _page(waiting, 20.5)
    assert '<td class="fail"><span class="when">' in page.split(f"waiting-{waiting.soon.run_id}")[1]
    assert "— passed 5 min ago" in _section(page, waiting.soon)
    assert "— in 39 min" in _section(page, waiting.later)


def test_the_price_dates_and_the_plan(waiting: Queue) -> None:
    shown = _section(_page(waiting, 5.5), waiting.soon)
    assert re.search(rf"{waiting.soon.as_of.isoformat()}: AAPL, COST, ", shown)
    assert "before the plan's day" not in shown
    assert "BUY" in shown


def test_the_commands_are_ready_to_copy(waiting: Queue) -> None:
    shown = _section(_page(waiting, 5.5), waiting.soon)
    approve, reject = re.findall(r'<code class="copy">(.*?)</code>', shown)
    run_id = waiting.soon.run_id
    assert shlex.split(approve) == ["tradefsm", "approve", run_id, "--actor", "YOUR_NAME",
                                    "--reason", "WHY"]  # fmt: skip
    assert shlex.split(reject)[:3] == ["tradefsm", "reject", run_id]


def test_a_live_approval_names_a_key() -> None:
    live = queue.commands({"run_id": "run_1", "mode": "live"})
    assert live["approve"].endswith("--key YOUR_KEY_FILE")
    assert "--key" not in queue.commands({"run_id": "run_1", "mode": "paper"})["approve"]


def _parked_at(waiting: Queue) -> str:
    reader = SqlRunStore(make_engine(waiting.url, read_only=True))
    return reader.ledger(waiting.soon.run_id)[-1].occurred_at.isoformat()


def test_no_waiting_run_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate.upgrade(make_engine(url))
    page = TestClient(console_for(url).app()).get("/approvals").text
    assert "No run waits for approval." in page


def test_time_in_state_counts_the_waiting_runs_in_machine_order(waiting: Queue) -> None:
    clock = FixedClock(TRADING_DAY + timedelta(minutes=30))
    page = TestClient(console_for(waiting.url, clock=clock).app()).get("/time-in-state").text
    yesterday = (TRADING_DAY - timedelta(days=1)).date().isoformat()
    assert f'name="since" value="{yesterday}"' in page  # the default window
    shown = re.findall(r'<tr id="state-(\w+)">', page)
    assert shown == ["idle", "generating_signals", "analyzing", "planning", "awaiting_approval"]
    parked = page.split('<tr id="state-awaiting_approval">')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", parked)
    assert cells[1:3] == ["3", "<b>3</b>"]  # three stays, all still going
    [longest] = re.findall(r'href="/runs/(\w+)"', parked)  # they parked at the same time
    assert longest in {waiting.soon.run_id, waiting.later.run_id, waiting.open.run_id}
