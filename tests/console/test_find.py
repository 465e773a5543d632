"""Finding a run: the search box (a run id prefix or a correlation id), the requester and
failure filters, and a cancelled run shown as cancelled."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import Runs, console_for


@pytest.fixture(scope="module")
def client(runs: Runs) -> TestClient:
    return TestClient(console_for(runs.url).app(), follow_redirects=False)


def test_every_page_has_the_search_box(client: TestClient, runs: Runs) -> None:
    for path in ("/", "/approvals", "/refused", "/time-in-state", "/verify",
                 f"/runs/{runs.done.run_id}", "/nowhere"):  # fmt: skip
        assert 'role="search"' in client.get(path).text


def test_a_unique_prefix_goes_to_the_run(client: TestClient, runs: Runs) -> None:
    found = client.get(f"/?q={runs.refused.run_id[:8]}")
    assert found.status_code == 303
    assert found.headers["location"] == f"/runs/{runs.refused.run_id}"


def test_a_correlation_id_goes_to_its_run(client: TestClient, runs: Runs) -> None:
    found = client.get("/", params={"q": runs.waiting.correlation_id})
    assert found.status_code == 303
    assert found.headers["location"] == f"/runs/{runs.waiting.run_id}"


def test_several_matches_are_a_filtered_list(client: TestClient, runs: Runs) -> None:
    common = _common_prefix(runs.done.run_id, runs.refused.run_id)
    page = client.get("/", params={"q": common})
    assert page.status_code == 200
    assert 'id="search-result"' in page.text
    assert runs.done.run_id[:12] in page.text
    assert runs.refused.run_id[:12] in page.text


def test_no_match_says_so(client: TestClient) -> None:
    page = client.get("/?q=no-such-run")
    assert page.status_code == 200
    assert "No run id starts with <code>no-such-run</code>" in page.text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [("failure=cancelled", "cancelled", "refused"), ("failure=max_orders", "refused", "cancelled"),
     ("failure=guard", "refused", "done"), ("requester=REQUESTER", "done", None),
     ("requester=nobody", None, "done"), ("account=gamma", "waiting", "done")],
)  # fmt: skip
def test_filters_by_failure_requester_and_account(
    client: TestClient, runs: Runs, query: str, shown: str | None, hidden: str | None
) -> None:
    requester = console_for(runs.url).store.ledger(runs.done.run_id)[0].actor
    text = client.get(f"/?{query.replace('REQUESTER', requester)}").text
    if shown:
        assert getattr(runs, shown).run_id[:12] in text
    if hidden:
        assert getattr(runs, hidden).run_id[:12] not in text


def test_an_unknown_failure_kind_lists_the_valid_ones(client: TestClient) -> None:
    page = client.get("/?failure=exploded")
    assert page.status_code == 400
    assert "cancelled, rejected, expired, guard" in page.text
    assert "max_orders" in page.text


def test_the_approval_queue_filters_by_account(client: TestClient, runs: Runs) -> None:
    assert runs.waiting.run_id[:12] in client.get("/approvals?account=gamma").text
    assert runs.waiting.run_id[:12] not in client.get("/approvals?account=alpha").text


def test_a_cancelled_run_is_shown_as_cancelled(client: TestClient, runs: Runs) -> None:
    listed = client.get("/?failure=cancelled").text
    assert 'class="badge failed failed cancelled">cancelled<' in listed
    page = client.get(f"/runs/{runs.cancelled.run_id}").text
    assert ">cancelled</span>" in page


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
