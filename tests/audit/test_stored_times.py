"""A time stored in another form than SQLite's one UTC text (an offset appended, no fraction
of a second) is a finding for its run; every reader shows the instant it names."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.audit.conftest import History
from tests.audit.test_tamper import _sql, _triggers_back, _without_triggers

# (stored text, the instant it names): the run's first row was written at 14:35:00 UTC.
FORMS = [
    ("2026-11-27 23:35:00.000000+09:00", "2026-11-27T14:35:00.000000Z"),
    ("2026-11-27 14:35:00", "2026-11-27T14:35:00.000000Z"),
    ("2026-11-27 14:35:00.000000+09:00", "2026-11-27T05:35:00.000000Z"),
]


def _cli_json(history: History, *args: str, code: int = 0) -> object:
    done = subprocess.run([sys.executable, "-m", "fsm", *args, "--db", history.url],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(("stored", "instant"), FORMS, ids=["offset", "no-fraction", "moved"])
def test_a_time_not_in_the_stored_form_is_a_finding_and_read_as_its_instant(
    sqlite_history: History, stored: str, instant: str
) -> None:
    history, run = sqlite_history, sqlite_history.done.run_id
    _without_triggers(history)
    _sql(history, "UPDATE ledger SET occurred_at = :t WHERE run_id = :r AND seq = 1", t=stored,
         r=run)  # fmt: skip
    _triggers_back(history)
    report = _cli_json(history, "audit", "verify", "--json", code=8)
    found = {(f["kind"], f["run_id"]) for f in report["findings"]}  # type: ignore[index]
    assert ("not_canonical", run) in found
    assert {r for _, r in found} == {run}  # the other runs verify
    assert (("edited", run) in found) == (instant != "2026-11-27T14:35:00.000000Z")
    shown = _cli_json(history, "runs", "show", run, "--format", "json")
    first = shown["ledger"][0]  # type: ignore[index]
    rows = _cli_json(history, "audit", "transitions", "--run", run, "--format", "json")
    listed = next(r for r in rows if r["seq"] == 1)  # type: ignore[attr-defined]
    assert _moment(first["occurred_at"]) == _moment(listed["occurred_at"]) == _moment(instant)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-27T14:35:00.000000Z",
        "!2026-11-27 14:35:00.000000",
        "\uff12\uff10\uff12\uff16-11-27 14:35:00.000000",  # digits, but not ASCII ones
    ],
    ids=["canonical-text-stored", "marked", "wide-digits"],
)
def test_a_time_that_reads_like_the_canonical_text_is_still_not_the_stored_form(
    sqlite_history: History, stored: str
) -> None:
    """SQLite turns the one stored form into canonical text for the verifier: a value stored
    as that text already, or as any other text, is still named (not_canonical or unreadable)."""
    history, run = sqlite_history, sqlite_history.done.run_id
    assert history.audit.verify().ok
    _without_triggers(history)
    _sql(history, "UPDATE ledger SET occurred_at = :t WHERE run_id = :r AND seq = 1", t=stored,
         r=run)  # fmt: skip
    _triggers_back(history)
    found = {(f.kind, f.run_id) for f in history.audit.verify().findings}
    assert found & {("not_canonical", run), ("unreadable", run)}
    assert {r for _, r in found} == {run}  # the other runs verify
