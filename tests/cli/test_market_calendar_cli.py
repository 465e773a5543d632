"""`tradefsm calendar` and a paper run on a day without a session, in a real process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fsm.calendar import calendar_for
from tests.cli.conftest import Cli, one_line_error
from tests.clock_shift.sitecustomize import SHIFT
from tests.days import today
from tests.unit.test_market_calendar import next_thanksgiving

XNYS = calendar_for("XNYS")


def test_the_calendar_lists_sessions_and_marks_the_early_close(ready: Cli) -> None:
    cli = ready  # the exchange is the risk policy's, read from the run database
    holiday = next_thanksgiving()
    first, last = holiday - timedelta(days=1), holiday + timedelta(days=4)
    table = cli("calendar", "--from", first.isoformat(), "--to", last.isoformat()).stdout
    friday = (holiday + timedelta(days=1)).isoformat()
    [row] = [line for line in table.splitlines() if friday in line]
    assert "early close" in row
    assert "18:00" in row
    assert holiday.isoformat() not in table
    sessions = cli.json("calendar", "--from", first.isoformat(), "--to", last.isoformat(),
                        "--json")  # fmt: skip
    assert [s["session"] for s in sessions] == [
        s.day.isoformat() for s in XNYS.sessions(first, last)
    ]
    assert [s["early_close"] for s in sessions] == [False, True, False]


def test_a_reversed_range_or_an_unknown_exchange_is_one_line(cli: Cli) -> None:
    reversed_range = cli("calendar", "--from", "2030-01-10", "--to", "2030-01-01", code=2)
    assert "is before --from" in one_line_error(reversed_range)
    unknown = cli("calendar", "--exchange", "NOPE", code=2)
    assert "unknown exchange 'NOPE'" in one_line_error(unknown)


def test_the_exchange_is_the_policys_and_a_setting_may_only_repeat_it(ready: Cli) -> None:
    london = {"TRADEFSM_EXCHANGE": "XLON"}
    refused = ready("run", "--mode", "dry-run", code=2, env_extra=london)
    assert one_line_error(refused).startswith(
        "error: TRADEFSM_EXCHANGE=XLON differs from the risk policy's exchange=XNYS (policy v1): "
        "settings may not change it"
    )
    assert ready.json("runs", "list", "--format", "json") == []  # refused before it was recorded
    # Another exchange has other hours: a loosening, which waits for a second person.
    ready("policy", "set", "exchange=XLON", "--actor", "risk-ann", "--reason", "London desk",
          code=9)  # fmt: skip
    assert "XNYS" in ready("calendar").stdout
    ready("policy", "approve", "2", "--actor", "risk-bob", "--reason", "mandate")
    assert "XLON session(s)" in ready("calendar").stdout
    ready("run", "--mode", "dry-run", env_extra=london)  # repeating the policy is fine
    assert [r["state"] for r in ready.json("runs", "list", "--format", "json")] == ["done"]


@pytest.mark.dated
def test_a_paper_run_on_a_saturday_says_so_in_one_line(ready: Cli) -> None:
    saturday = today() - timedelta(days=(today().weekday() - 5) % 7)
    # The refusal is the session's, not the age's: the policy lets a week-old as_of start
    # (a loosening, so a second person approves it: change 2 after the defaults).
    ready("policy", "set", "stale_after_days=10", "--actor", "risk-ann", "--reason", "r", code=9)
    ready("policy", "approve", "2", "--actor", "risk-bob", "--reason", "calendar test")
    done = ready("run", "--as-of", saturday.isoformat(), code=1)
    [line] = [ln for ln in done.stdout.splitlines() if "failed:" in ln]
    assert f"guard as_of_session refused start: {saturday} (Saturday) is no session of XNYS" in line
    dry = ready.json("run", "--as-of", saturday.isoformat(), "--mode", "dry-run", "--json")
    assert dry["state"] == "done"  # a dry run sends nothing: it may look at any day


@pytest.mark.dated
def test_an_approval_after_the_close_exits_6_naming_the_next_open(ready: Cli) -> None:
    parked = ready.json("run", "--json", "--actor", "trader-ann", code=9,
                        env_extra={"TRADEFSM_APPROVAL_NOTIONAL": "1000"})  # fmt: skip
    session = XNYS.session(today())
    assert session is not None
    night = session.close + timedelta(hours=2)
    moved = {SHIFT: str((night - datetime.now(UTC)).total_seconds())}  # the CLI's clock, at night
    done = ready("approve", parked["run_id"], "--actor", "risk-bob", "--reason", "checked",
                 code=6, env_extra=moved)  # fmt: skip
    line = one_line_error(done)
    assert "approved refused by guard market_open" in line
    assert f"next open {XNYS.next_open(night).open:%Y-%m-%d %H:%M} UTC" in line
    shown = ready.json("runs", "show", parked["run_id"], "--format", "json")
    assert shown["run"]["state"] == "awaiting_approval"
