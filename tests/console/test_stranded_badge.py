"""A run pinned to another machine definition is badged stranded, in the list and on its page,
with the commands that help; it is not called stuck (resume would refuse it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from starlette.testclient import TestClient

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.machines.specs import TRADING_SPECS
from fsm.requests import RunRequest
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY
from tests.console.conftest import console_for
from tests.pinning.variants import PARKS, engine_of, with_extra_guard

CURRENT = TRADING_SPECS.definition.definition_hash


def test_a_stranded_run_is_badged_in_the_list_and_on_its_page(
    migrated_url: str, tmp_path: Path
) -> None:
    url, store = migrated_url, SqlRunStore(make_engine(migrated_url))
    clock = FixedClock(TRADING_DAY)
    old = with_extra_guard()
    parked = engine_of(store, PaperBroker(tmp_path / "a.db"), clock, old, "old-").run(
        RunRequest(account_id="alpha")
    )
    held = engine_of(store, PaperBroker(tmp_path / "b.db"), clock, old, "held-", PARKS).create(
        RunRequest(account_id="beta")
    )  # its process died: nobody drives it, yet it is stranded rather than stuck
    current = engine_of(store, PaperBroker(tmp_path / "c.db"), clock, TRADING_SPECS, "new-")
    waiting = current.run(RunRequest(account_id="gamma"))
    store.engine.dispose()
    later = FixedClock(TRADING_DAY + timedelta(days=1))
    client = TestClient(console_for(url, clock=later).app())
    listed = client.get("/").text
    assert listed.count(">stranded</span>") == 2
    assert ">stuck</span>" not in listed
    page = client.get(f"/runs/{parked.run_id}").text
    assert '<span class="badge stranded">stranded</span>' in page
    assert (f"tradefsm runs migrate {parked.run_id} --to {CURRENT[:12]} --actor NAME "
            "--reason TEXT") in page  # fmt: skip
    assert f"tradefsm definitions diff {old.definition.definition_hash[:12]} {CURRENT[:12]}" in page
    assert 'id="stuck"' not in client.get(f"/runs/{held.run_id}").text
    assert 'id="stranded"' not in client.get(f"/runs/{waiting.run_id}").text
