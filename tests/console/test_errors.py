"""Malformed input answers 400 inside the page layout, naming the valid values; every
response, errors included, carries the security headers; a 'to' date includes its day."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from fsm.console.app import SECURITY_HEADERS
from tests.console.conftest import Runs, console_for


@pytest.fixture(scope="module")
def client(runs: Runs) -> TestClient:
    return TestClient(console_for(runs.url).app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "named"),
    [("/?page=abc", "whole number"), ("/?page=0", "whole number"), ("/?page=%C3%A9", "from 1"),
     ("/?since=garbage", "YYYY-MM-DD"), ("/?until=2026-02-30", "YYYY-MM-DD"),
     ("/?status=finished", "queued, active, done, failed"), ("/?mode=real", "dry-run"),
     ("/refused?since=yesterday", "YYYY-MM-DD"), ("/refused?format=xlsx", "csv"),
     ("/time-in-state?until=9999-12-31", "YYYY-MM-DD"), ("/time-in-state?format=pdf", "csv")],
)  # fmt: skip
def test_a_malformed_parameter_is_a_400_naming_the_valid_values(
    client: TestClient, path: str, named: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert named in response.text
    assert 'href="/verify"' in response.text  # inside the layout, with its navigation
    assert "Not a valid request" in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/", 200), ("get", "/nowhere", 404), ("get", "/runs/nope", 404),
     ("get", "/?page=abc", 400), ("post", "/", 405), ("get", "/static/nothing.css", 404),
     ("get", "/static/console.css", 200), ("post", "/login", 401)],
)  # fmt: skip
def test_every_response_carries_the_security_headers(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_a_failing_page_is_a_page_with_the_headers(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = console_for(runs.url)

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(console.store, "list_runs", broken)
    response = TestClient(console.app(), raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert "the console failed to answer this page" in response.text
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert response.headers["content-security-policy"] == csp


def test_a_to_date_includes_its_own_day(client: TestClient, runs: Runs) -> None:
    day = runs.done.created_at.date().isoformat()
    page = client.get(f"/?since={day}&until={day}").text
    assert runs.done.run_id[:12] in page
