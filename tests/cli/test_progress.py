"""On a terminal, `tradefsm run` shows each transition as it happens."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from fsm.adapters.memory_store import MemoryRunStore
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.commands.embedded import Progress as _progress
from fsm.requests import RunRequest
from tests.conftest import TRADING_DAY, make_engine_for


def test_progress_lines_on_a_terminal_and_silence_off_it(tmp_path: Path) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    with _progress(enabled=True, console=terminal) as observer:
        engine = make_engine_for(
            MemoryRunStore(), PaperBroker(tmp_path / "p.db"), FixedClock(TRADING_DAY)
        )
        engine.observer = observer
        engine.run(RunRequest(account_id="paper"))
    shown = screen.getvalue()
    assert "start: idle → generating_signals" in shown
    assert "execution_completed: executing → done" in shown

    pipe = io.StringIO()
    with _progress(enabled=True, console=Console(file=pipe, force_terminal=False)) as observer:
        assert observer is None
    assert pipe.getvalue() == ""
