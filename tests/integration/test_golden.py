"""With a fixed clock and id factory, the demo run's ledger is the same every time.

The expected ledger lives in tests/golden/demo_ledger.json. After an intended change to the
machine, guards or steps, regenerate it with ``TRADEFSM_UPDATE_GOLDEN=1 pytest tests -k golden``
and review the diff like any other code change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for

GOLDEN = Path(__file__).parent.parent / "golden" / "demo_ledger.json"


def _demo_ledger(folder: Path) -> list[dict[str, Any]]:
    engine = make_engine(f"sqlite:///{folder / 'runs.db'}")
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    # A fixed actor, as the clock and ids are fixed (the default is the OS user).
    settings = Settings(actor="engine")
    broker = PaperBroker(folder / "paper.db")
    run = make_engine_for(store, broker, FixedClock(TRADING_DAY), settings).run(
        RunRequest(account_id="paper")
    )
    engine.dispose()
    return [e.model_dump(mode="json") for e in store.ledger(run.run_id)]


def test_the_demo_ledger_matches_the_golden_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows name the process that committed them (host/pid/token): a fixed one here.
    monkeypatch.setattr("fsm.engine.owner_id", lambda token: f"golden-host/1/{token}")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = _demo_ledger(tmp_path / "a"), _demo_ledger(tmp_path / "b")
    assert first == second
    if os.environ.get("TRADEFSM_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(first, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert first == json.loads(GOLDEN.read_text(encoding="utf-8"))
