"""One rule for stuck runs: active, not parked for a person, and either nobody drives it or it
made no transition for longer than the bound."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import InvalidInput
from fsm.requests import RunRequest
from fsm.stuck import parse_duration, stuck_runs, why_stuck
from persistence import migrate
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.conftest import TRADING_DAY, make_engine_for


def test_a_held_run_is_stuck_without_progress_then_without_a_holder(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    store = SqlRunStore(engine)
    clock = FixedClock(TRADING_DAY, step=timedelta(0))
    held = make_engine_for(store, PaperBroker(tmp_path / "p.db"), clock).create(
        RunRequest(account_id="acct-s")
    )
    lease_left = held.lease_expires_at - held.updated_at  # type: ignore[operator]
    bound = lease_left / 2
    assert why_stuck(held, held.updated_at + bound / 2, bound) is None
    assert why_stuck(held, held.updated_at + bound * 1.5, bound) == "no progress"  # lease live
    assert why_stuck(held, held.updated_at + lease_left * 2, bound) == "no live holder"
    [found] = stuck_runs(store, held.updated_at + lease_left * 2, bound)
    assert found.resume_command == f"tradefsm resume {held.run_id} --actor NAME"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("30", 30)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_a_wrong_duration_is_a_typed_error() -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration("soon")
