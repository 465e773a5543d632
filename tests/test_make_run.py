"""`make run`, the README's first command, ends with a rebalance on any day: a paper run while
the exchange is open, and a dry run (the paper run refused and shown) while it is closed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clock_shift.sitecustomize import SHIFT
from tests.days import now

ROOT = Path(__file__).parent.parent


def _make_run(folder: Path, shift: timedelta | None = None) -> subprocess.CompletedProcess[str]:
    """The Makefile's `run` target in ``folder``, with this test environment's tradefsm in
    place of the `.venv` it would create."""
    if shutil.which("make") is None:
        pytest.fail("make is missing: the README's two commands need it")
    stamp = folder / "installed"
    stamp.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")}
    if shift is not None:
        env[SHIFT] = str(shift.total_seconds())
    command = ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-o", str(stamp),
               "run", f"BIN={Path(sys.executable).parent}", f"STAMP={stamp}"]  # fmt: skip
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def test_make_run_trades_on_paper_while_the_exchange_is_open(tmp_path: Path) -> None:
    done = _make_run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mode paper" in done.stdout
    assert "ended done" in done.stdout
    assert "exchange is closed" not in done.stdout


def test_make_run_plans_a_dry_run_while_the_exchange_is_closed(tmp_path: Path) -> None:
    sunday = now() + timedelta(days=6 - now().weekday())
    noon = datetime(sunday.year, sunday.month, sunday.day, 12, tzinfo=UTC)
    done = _make_run(tmp_path, noon - datetime.now(UTC))
    assert done.returncode == 0, done.stdout + done.stderr
    refused, planned = done.stdout.split("The exchange is closed", 1)
    assert "(Sunday) is no session of XNYS" in refused
    assert "the next " in refused
    assert "mode dry-run" in planned
    assert "ended done" in planned
    assert "Traceback" not in done.stderr
