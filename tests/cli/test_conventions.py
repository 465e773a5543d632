"""The CLI as people use such tools: short ids, readable tables, following a run, a config
file, the usual flags, and one line for every mistake."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Cli, one_line_error
from tests.cli.terminal import in_terminal


def _ids(cli: Cli) -> list[str]:
    return [r["run_id"] for r in cli.json("runs", "list", "--format", "json")]


def test_runs_list_fits_80_columns_with_ids_people_can_type(ready: Cli) -> None:
    ready("run", "--mode", "dry-run", "--account", "a-rather-long-account-name")
    ready("run", "--account", "paper", env_extra={"TRADEFSM_MAX_ORDERS": "1"}, code=1)
    code, shown = in_terminal(ready, "runs", "list")
    assert code == 0, shown
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80, shown
    for run_id in _ids(ready):
        [line] = [ln for ln in lines if run_id[:12] in ln]
        assert run_id not in line  # shortened, and on one line
    assert "GuardRej" in shown
    for columns in ("80", "200"):  # ids are never folded, however narrow the output
        full = ready("runs", "list", "--no-trunc", env_extra={"COLUMNS": columns}).stdout
        assert all(run_id in full for run_id in _ids(ready)), full


def test_any_unique_prefix_names_a_run(ready: Cli) -> None:
    ready("run", "--mode", "dry-run")
    ready("run", "--mode", "dry-run", "--account", "other")
    first, second = _ids(ready)
    shown = ready.json("runs", "show", first[4:10], "--format", "json")
    assert shown["run"]["run_id"] == first
    assert ready.json("runs", "show", second[:9], "--format", "json")["run"]["run_id"] == second
    assert ready("diagram", "--run", first[4:10]).stdout.startswith("stateDiagram-v2")
    assert ready("audit", "verify", "--run", first[:10]).returncode == 0
    assert "at least 4 characters" in one_line_error(ready("runs", "show", "run_", code=2))
    assert "no run 'ffffffff'" in one_line_error(ready("resume", "ffffffff", code=4))


def test_runs_show_reads_like_a_report(ready: Cli) -> None:
    ready("run", "--account", "paper", env_extra={"TRADEFSM_MAX_ORDERS": "1"}, code=1)
    code, shown = in_terminal(ready, "runs", "show", _ids(ready)[0][4:12])
    assert code == 0
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "✓ prices_sane" in shown
    assert "✗ max_orders:" in shown  # the refusal, with its reason
    assert "refused" in shown
    assert "signals (" in shown
    assert "$100,000.00" in shown
    for python_repr in ("{'", "None", "Decimal("):
        assert python_repr not in shown


def test_a_terminal_run_shows_each_transition_once(ready: Cli) -> None:
    code, shown = in_terminal(ready, "run", "--mode", "dry-run")
    assert code == 0
    assert shown.count("start: idle → generating_signals") == 1
    assert '"event"' not in shown  # no log records glued to the progress display
    code, shown = in_terminal(ready, "-v", "run", "--mode", "dry-run", "--account", "b")
    assert "fsm_event" in shown  # asked for: the log lines are back


def test_runs_watch_follows_a_run_a_worker_drives(ready: Cli) -> None:
    run_id = ready("submit").stdout.strip()
    watch = subprocess.Popen(
        [sys.executable, "-m", "fsm", "runs", "watch", run_id[:10], "--interval", "0.1"],
        env=ready.env, cwd=ready.folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    ready("worker", "--max-runs", "1")
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    moves = [re.findall(r" \d+  (\w+) by ", line)[0] for line in out.splitlines()]
    assert moves[0] == "created"
    assert moves[-1] == "execution_completed"
    assert len(moves) == len(set(moves))  # each transition once


def test_filters_and_formats_refuse_unknown_values(ready: Cli) -> None:
    status = ready("runs", "list", "--status", "bogus", code=2).stderr
    assert "is not one of" in status
    assert "'queued'" in status
    state = ready("runs", "list", "--state", "bogus", code=2).stderr
    assert "awaiting_approval" in state
    assert "csv" in ready("runs", "show", "x", "--format", "csv", code=2).stderr


def test_output_files_that_cannot_be_written_are_one_line(ready: Cli, tmp_path: Path) -> None:
    missing = one_line_error(ready("diagram", "--output", "/no/such/dir/x.dot", code=2))
    assert "folder /no/such/dir does not exist" in missing
    ready("run", "--mode", "dry-run")
    folder = one_line_error(
        ready("audit", "export", "--run", _ids(ready)[0], "--output", str(tmp_path), code=2)
    )
    assert "is a folder" in folder


def test_a_database_from_elsewhere_is_named_so(cli: Cli) -> None:
    cli.upgrade()
    with sqlite3.connect(cli.folder / "runs.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    newer = one_line_error(cli("db", "upgrade", code=3))
    assert "revision 9999, which this tradefsm does not know" in newer
    junk = cli.folder / "junk.db"
    junk.write_bytes(os.urandom(8192))
    line = one_line_error(cli("runs", "list", "--db", f"sqlite:///{junk}", code=3))
    assert "not a tradefsm database" in line


def test_version_help_completion_and_history(ready: Cli) -> None:
    assert ready("--version").stdout.startswith("tradefsm ")
    assert "watch" in ready("runs", "-h").stdout
    # The shell named, not detected from the parent process (a test worker is no shell).
    named = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    assert "complete" in ready("--show-completion", "bash", env_extra=named).stdout
    history = ready("db", "history", "--format", "json").stdout
    assert '"revision": "0005"' in history
    assert '"current": true' in history


def test_a_config_file_sits_below_the_environment_and_flags(ready: Cli) -> None:
    (ready.folder / "tradefsm.toml").write_text('account_id = "from-file"\n', encoding="utf-8")
    assert ready.json("run", "--mode", "dry-run", "--json")["account_id"] == "from-file"
    env = {"TRADEFSM_ACCOUNT_ID": "from-env"}
    assert ready.json("run", "--mode", "dry-run", "--json", env_extra=env)["account_id"] == (
        "from-env"
    )
    flagged = ready.json("run", "--mode", "dry-run", "--json", "--account", "from-flag",
                         env_extra=env)  # fmt: skip
    assert flagged["account_id"] == "from-flag"
    other = ready.folder / "other.toml"
    other.write_text("lease_seconds = 'soon'\n", encoding="utf-8")
    line = one_line_error(ready("--config", str(other), "runs", "list", code=2))
    assert "invalid setting lease_seconds" in line
    assert "other.toml" in line
