"""A run's page tells who drove it: the process that took over a killed run and the one it
took over from, linked to the ledger rows (each row has its anchor, ``#seq-N``); the attempt
the killed process never finished; each order event's time and broker id; each row's hash and
previous hash; and an auto-refresh while the run is active."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from fsm.clock import FixedClock
from fsm.records import RunRecord
from tests.conftest import TRADING_DAY
from tests.console.conftest import LATER, Killed, console_for


def _page(killed: Killed, run: RunRecord, query: str = "") -> str:
    client = TestClient(console_for(killed.url, clock=FixedClock(TRADING_DAY + LATER)).app())
    return client.get(f"/runs/{run.run_id}{query}").text


def test_the_process_that_resumed_a_killed_run_and_the_one_it_took_over_from(
    killed: Killed,
) -> None:
    first, second = killed.ledger[0].process, killed.ledger[1].process
    assert first != second
    page = _page(killed, killed.resumed)
    [row] = re.findall(r'<tr class="handover" id="handover-2">.*?</tr>', page)
    assert "resumed by" in row
    assert f'<code>{second}</code> at <a href="#seq-2">seq 2</a>' in row
    assert f"taken over from <code>{first}</code>, which stopped in idle" in row
    assert '<a href="#seq-1">seq 1</a>' in row
    ledger_row = page[page.index('<tr id="seq-2"') :].split("</tr>", 1)[0]
    assert f"took over from <code>{first}</code>" in ledger_row


def test_a_run_approved_from_another_process_is_continued_not_resumed(killed: Killed) -> None:
    page = _page(killed, killed.approved)
    [row] = re.findall(r'<tr class="handover" id="handover-\d+">.*?</tr>', page)
    assert "<th>continued by</th>" in row
    assert "after a person's decision on the run parked in awaiting_approval" in row
    assert "open-attempt" not in page  # nothing was killed


def test_every_ledger_row_has_an_anchor_and_its_hashes_collapsed(killed: Killed) -> None:
    page = _page(killed, killed.resumed)
    for entry in killed.ledger:
        row = page[page.index(f'<tr id="seq-{entry.seq}"') :].split("</tr>", 1)[0]
        assert f'<a href="#seq-{entry.seq}">{entry.seq}</a>' in row
        assert '<details class="hash"><summary>hash</summary>' in row
        assert f'<code class="copy">{entry.prev_hash}</code>' in row
        assert f'<code class="copy">{entry.hash}</code>' in row
        assert f"<dt>scheme</dt><dd>{entry.scheme}</dd>" in row


def test_the_attempt_the_killed_process_never_finished_is_shown(killed: Killed) -> None:
    page = _page(killed, killed.resumed)
    attempts = page[page.index('id="attempts"') :].split("</table>", 1)[0]
    [open_row] = re.findall(r'<tr class="open-attempt">.*?</tr>', attempts)
    assert open_row.startswith('<tr class="open-attempt"><td>idle</td>')
    assert f"by <code>{killed.ledger[0].process}</code>" in open_row
    assert 'no end: its process stopped; resumed at <a href="#seq-2">seq 2</a>' in open_row
    held = _page(killed, killed.held)
    assert "no end yet: stuck, no live holder" in held


def test_order_history_shows_each_event_s_time_and_broker_id(killed: Killed) -> None:
    page = _page(killed, killed.resumed)
    history = page[page.index('<ol class="history">') :].split("</ol>", 1)[0]
    events = re.findall(r"<li>(.*?)</li>", history)
    assert len(events) >= 2
    assert re.match(r'<span class="when">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</span> \w+', events[0])
    assert any('<span class="muted">broker id</span> <code>' in e for e in events)


def test_an_active_run_s_page_reloads_on_request_and_a_finished_one_never(
    killed: Killed,
) -> None:
    meta = '<meta http-equiv="refresh" content="15">'
    active = _page(killed, killed.held, "?refresh=15")
    assert meta in active
    assert f'<a href="/runs/{killed.held.run_id}">stop reloading</a>' in active
    assert meta not in _page(killed, killed.held)
    assert f'href="/runs/{killed.held.run_id}?refresh=30"' in _page(killed, killed.held)
    finished = _page(killed, killed.resumed, "?refresh=15")
    assert "http-equiv" not in finished
    assert 'id="refresh"' not in finished


@pytest.mark.parametrize("value", ["abc", "0", "99999", "５"])
def test_a_malformed_refresh_is_a_400_naming_the_bounds(killed: Killed, value: str) -> None:
    client = TestClient(console_for(killed.url).app())
    answer = client.get(f"/runs/{killed.held.run_id}?refresh={value}")
    assert answer.status_code == 400
    assert "refresh must be a number of seconds from 5 to 3600" in answer.text
