"""The suite passes on any day: the tests marked `dated` run again with the clock a year ahead,
on a Saturday (the suite's clock then reads the Friday session before: a test that dates its
inputs by the wall's day instead of that clock's fails, as it would on any week-end).

libfaketime moves the wall clock of the test process and of every CLI process it starts (the
preload is inherited), so a test that wrote a fixed date into a price file would be refused by
the freshness guards here, as it would be on a real day a year from now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.days import today

SATURDAY = 5
REAL_TODAY = "TRADEFSM_TEST_REAL_TODAY"  # set by the check below for the clock test inside it


def wall_today() -> date:
    """The wall clock's day (faketime moves it; the tests' market-hours shift does not)."""
    return datetime.now(UTC).date()


def ahead_days(real: date) -> int:
    """How far the check moves the wall clock: a year, then on to the next Saturday."""
    return 365 + (SATURDAY - (real + timedelta(days=365)).weekday()) % 7


def _faketime() -> str:
    found = shutil.which("faketime")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("faketime is required in CI (scripts/ensure-system.sh installs it)")
        pytest.skip("faketime not installed (Debian package faketime)")
    return found


@pytest.mark.timeout(960)  # the tests it runs again have 900 s, for a loaded machine
def test_dated_tests_pass_with_the_clock_a_year_ahead() -> None:
    real = wall_today()
    env = {**os.environ, REAL_TODAY: real.isoformat()}
    done = subprocess.run(
        [_faketime(), "-m", "-f", f"+{ahead_days(real)}d", sys.executable, "-m", "pytest", "-q",
         "-p", "no:cacheprovider", "-m", "dated", str(Path(__file__).parent)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1], done.stdout[-2000:]


@pytest.mark.dated
def test_the_clock_is_a_year_ahead_inside_the_check(tmp_path: Path) -> None:
    """Inside the check, the CLI's own clock dates a run a year after the real day."""
    real = os.environ.get(REAL_TODAY)
    if real is None:
        pytest.skip("runs only inside the year-ahead check")
    cli = Cli(tmp_path)
    cli("db", "upgrade")
    run = cli.json("run", "--mode", "dry-run", "--json")
    assert run["as_of"] == today().isoformat()
    assert wall_today() - timedelta(days=ahead_days(date.fromisoformat(real))) == (
        date.fromisoformat(real)
    )
    assert wall_today().weekday() == SATURDAY
