"""Every console page shows a halt in force, on top."""

from __future__ import annotations

from starlette.testclient import TestClient

from fsm import halts
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.console.conftest import console_for


def test_every_console_page_names_the_halt_in_force(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    client = TestClient(console_for(sqlite_url).app())
    assert "TRADING HALTED" not in client.get("/").text
    halts.halt(SqlRunStore(engine), None, "ops-ann", "market event", "ops", TRADING_DAY)
    for page in ("/", "/approvals", "/refused", "/verify"):
        shown = client.get(page).text
        assert "TRADING HALTED</strong> every account halted by ops-ann" in shown, page
        assert "market event" in shown
