"""The verify page checks a history in the request only when it is small: above
``VERIFY_RUNS_LIMIT`` runs it refuses every-run verification with the command that does it,
and still verifies one run."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import Runs, console_for


def test_a_big_history_is_refused_with_the_command_and_one_run_still_verifies(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fsm.console.app.VERIFY_RUNS_LIMIT", 2)
    client = TestClient(console_for(runs.url).app())
    page = client.get("/verify?go=1").text
    assert 'id="too-big"' in page
    assert "This history holds 5 runs" in page
    assert f"tradefsm audit verify --db sqlite:///{runs.url.split('///', 1)[1]}</code>" in page
    assert 'id="verdict"' not in page  # no verdict it did not reach
    one = client.get(f"/verify?run={runs.tampered.run_id[:10]}&go=1").text
    assert 'id="too-big"' not in one
    assert "TAMPERED" in one


def test_a_small_history_is_verified_on_the_page(runs: Runs) -> None:
    page = TestClient(console_for(runs.url).app()).get("/verify?go=1").text
    assert 'id="too-big"' not in page
    assert "TAMPERED: 1 finding(s) — " in page
