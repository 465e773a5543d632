"""The run page says how far the signed digests cover the run: sealed in digest N up to seq
M, rows after M not sealed yet, a run created after the newest digest not sealed at all, and
without digests "not anchored" — in amber, never green."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.digests import load_anchors
from fsm.ids import SequentialIdFactory
from fsm.keyfiles import generate_keys, load_private_key
from fsm.records import RunRecord
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for
from tests.console.conftest import Runs, build_runs, console_for

SEALED_AT = TRADING_DAY + timedelta(hours=1)
SHOWN_AT = SEALED_AT + timedelta(hours=2, minutes=5)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Runs, RunRecord, RunRecord, Path]:
    folder = tmp_path_factory.mktemp("sealed")
    runs = build_runs(folder)
    engine = make_engine(runs.url)
    store = SqlRunStore(engine)
    driving = make_engine_for(store, PaperBroker(folder / "zeta.db"), FixedClock(TRADING_DAY),
                              Settings(), ids=SequentialIdFactory("zeta"))  # fmt: skip
    grown = driving.create(RunRequest(account_id="zeta"))
    private, _ = generate_keys(folder / "keys")
    SqlAudit(engine).seal(load_private_key(private), SEALED_AT, folder / "digests")
    driving.cancel(grown.run_id, actor="ops-eve", reason="after the seal")
    later = make_engine_for(store, PaperBroker(folder / "eta.db"), FixedClock(SEALED_AT),
                            Settings(), ids=SequentialIdFactory("eta"))  # fmt: skip
    unsealed = later.create(RunRequest(account_id="eta"))
    engine.dispose()
    return runs, grown, unsealed, folder


@pytest.fixture(scope="module")
def client(sealed: tuple[Runs, RunRecord, RunRecord, Path]) -> TestClient:
    runs, _, _, folder = sealed
    anchors = load_anchors(folder / "digests", [folder / "keys" / "tradefsm-audit.pub"])
    console = console_for(runs.url, anchors=anchors, clock=FixedClock(SHOWN_AT))
    return TestClient(console.app())


def _coverage(page: str) -> str:
    start = page.index('id="coverage"')
    return page[start - 20 : page.index("</p>", start)]


def test_a_sealed_run_names_its_digest_seq_and_age(client: TestClient, sealed: tuple) -> None:
    runs = sealed[0]
    rows = len(console_for(runs.url).store.ledger(runs.done.run_id))
    line = _coverage(client.get(f"/runs/{runs.done.run_id}").text)
    assert f"sealed in digest 1 up to seq {rows} (2 h 05 min ago)" in line
    assert 'class="pass"' in line


def test_rows_after_the_seal_are_not_sealed_yet(client: TestClient, sealed: tuple) -> None:
    line = _coverage(client.get(f"/runs/{sealed[1].run_id}").text)
    assert "sealed in digest 1 up to seq 1" in line
    assert "seq 2 to" in line
    assert "not sealed yet — newest digest is 2 h 05 min old" in line
    assert 'class="warn"' in line


def test_a_run_created_after_the_newest_digest_is_not_sealed(
    client: TestClient, sealed: tuple
) -> None:
    page = client.get(f"/runs/{sealed[2].run_id}").text
    line = _coverage(page)
    assert "not sealed yet — newest digest is 2 h 05 min old" in line
    assert 'class="warn"' in line
    assert "✓ intact" in page  # its own chain still verifies


def test_without_digests_not_anchored_is_amber(runs: Runs) -> None:
    page = TestClient(console_for(runs.url).app()).get(f"/runs/{runs.done.run_id}").text
    line = _coverage(page)
    assert "not anchored" in line
    assert 'class="warn"' in line
    assert 'class="pass">⚠' not in page
    verify = TestClient(console_for(runs.url).app()).get("/verify?go=1").text
    assert 'class="warn">⚠ not anchored' in verify
