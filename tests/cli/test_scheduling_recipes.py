"""The recipes of docs/scheduling.md, run: the cron line, the systemd units, the Kubernetes
manifests and the before-the-close script each submit through the real CLI; a second trigger
the same day is the same run; a day without a session is recorded, cancelled, exit 0."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from configparser import ConfigParser
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fsm.calendar import DEFAULT_EXCHANGE, calendar_for
from tests import days
from tests.cli.conftest import Cli, one_line_error

ROOT = Path(__file__).parent.parent.parent
DOC = (ROOT / "docs" / "scheduling.md").read_text(encoding="utf-8")
DEPLOY = ROOT / "deploy"
BIN = str(Path(sys.executable).parent)  # where this environment's `tradefsm` is


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC, re.DOTALL)


def _tradefsm_args(command: str) -> list[str]:
    """The arguments after `tradefsm` in a shell command line, redirections left out."""
    words = shlex.split(command.split(">>", maxsplit=1)[0])
    at = next(i for i, w in enumerate(words) if Path(w).name == "tradefsm")
    return words[at + 1 :]


def _submits_once_per_day(cli: Cli, args: list[str]) -> dict[str, Any]:
    assert args[:3] == ["submit", "--trading-day", "auto"], args
    first = cli.json(*args)
    again = cli.json(*args)
    assert first["session"] is True  # the CLI's clock is in a session (tests/clock_shift)
    assert again["run_id"] == first["run_id"]
    assert first["idempotency_key"] == f"trading-day:{first['account_id']}:{first['as_of']}"
    return dict(first)


def test_the_cron_line_submits_once_per_trading_day(ready: Cli) -> None:
    [daily, before_close] = _blocks("cron")
    env_line, line = daily.strip().splitlines()
    assert env_line == "CRON_TZ=America/New_York"
    fields = line.split(None, 5)
    assert fields[:5] == ["30", "15", "*", "*", "1-5"]
    first = _submits_once_per_day(ready, _tradefsm_args(fields[5]))
    assert first["exchange"] == DEFAULT_EXCHANGE
    assert ready.json("runs", "list", "--format", "json")[0]["run_id"] == first["run_id"]
    assert before_close.split()[6] == "/opt/tradefsm/deploy/before-close.sh"


def test_a_day_without_a_session_is_recorded_and_cancelled_not_an_error(ready: Cli) -> None:
    day = days.now().date()
    while calendar_for(DEFAULT_EXCHANGE).is_session(day):
        day += timedelta(days=1)
    week_end = {"TESTS_CLOCK_SHIFT_SECONDS": str(_shift_to(day))}
    done = ready.json("submit", "--trading-day", "auto", "--actor", "cron:rebalance", "--json",
                      env_extra=week_end)  # fmt: skip
    assert (done["session"], done["state"], done["trading_day"]) == (False, "failed", str(day))
    shown = ready.json("runs", "show", done["run_id"], "--format", "json")
    assert shown["ledger"][-1]["actor"] == "cron:rebalance"
    assert f"no {DEFAULT_EXCHANGE} session on {day}" in ready("runs", "show", done["run_id"]).stdout
    again = ready.json("submit", "--trading-day", "auto", "--actor", "cron:rebalance", "--json",
                       env_extra=week_end)  # fmt: skip
    assert again["run_id"] == done["run_id"]


def _shift_to(day: Any) -> float:
    """The clock shift that puts the CLI at 15:00 UTC on ``day``."""
    target = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
    return (target - datetime.now(UTC)).total_seconds()


def test_trading_day_refuses_other_values_and_explicit_keys(ready: Cli) -> None:
    wrong = one_line_error(ready("submit", "--trading-day", "tomorrow", code=2))
    assert "only `auto`" in wrong
    keyed = ("submit", "--trading-day", "auto", "--idempotency-key", "k-1")
    assert "leave out" in one_line_error(ready(*keyed, code=2))


def _unit(name: str) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


def test_the_systemd_units_are_valid_and_their_command_submits(ready: Cli, tmp_path: Path) -> None:
    timer = _unit("tradefsm-submit.timer")
    assert timer["Timer"]["OnCalendar"] == "Mon..Fri 15:30 America/New_York"
    assert "Persistent" not in timer["Timer"]  # a missed time does not fire at boot
    service = _unit("tradefsm-submit.service")
    assert service["Service"]["Type"] == "oneshot"
    _submits_once_per_day(ready, _tradefsm_args(service["Service"]["ExecStart"]))
    worker = _unit("tradefsm-worker.service")
    assert worker["Service"]["KillSignal"] == "SIGTERM"
    _options_exist(ready, _tradefsm_args(worker["Service"]["ExecStart"]))
    _options_exist(ready, _tradefsm_args(worker["Service"]["ExecStartPre"]))
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # parsed above; verified where systemd is installed
    calendar = subprocess.run([analyze, "calendar", timer["Timer"]["OnCalendar"]],
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert calendar.returncode == 0, calendar.stderr
    units = _installable_copies(tmp_path)
    verify = [analyze, "verify", "--man=no", *map(str, units)]
    verified = subprocess.run(verify, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == "", verified.stderr  # no directive ignored


def _installable_copies(folder: Path) -> list[Path]:
    """The units as installed here: this tradefsm, this user, no settings file."""
    tradefsm = shutil.which("tradefsm", path=BIN)
    assert tradefsm is not None
    copies = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text(encoding="utf-8").replace("/opt/tradefsm/bin/tradefsm", tradefsm)
        text = re.sub(r"(?m)^User=.*$", "User=root", text)
        text = re.sub(r"(?m)^EnvironmentFile=", "EnvironmentFile=-", text)
        (folder / unit.name).write_text(text, encoding="utf-8")
        copies.append(folder / unit.name)
    return copies


def _options_exist(cli: Cli, args: list[str]) -> None:
    """Every --option of ``args`` is one the command has."""
    command = args[:1]
    helped = cli(*command, "--help").stdout
    for option in (a for a in args if a.startswith("--")):
        assert option in helped, (command, option)


def test_the_kubernetes_manifests(ready: Cli) -> None:
    cron = yaml.safe_load((DEPLOY / "k8s" / "submit-cronjob.yaml").read_text(encoding="utf-8"))
    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    spec = cron["spec"]
    assert spec["schedule"] == "30 15 * * 1-5"
    assert (spec["timeZone"], spec["concurrencyPolicy"]) == ("America/New_York", "Forbid")
    assert spec["startingDeadlineSeconds"] == 3600
    [job] = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert job["command"][0] == "tradefsm"
    _submits_once_per_day(ready, job["command"][1:])
    deployment = yaml.safe_load(
        (DEPLOY / "k8s" / "worker-deployment.yaml").read_text(encoding="utf-8")
    )
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 60
    [worker] = pod["spec"]["containers"]
    assert worker["command"][:2] == ["tradefsm", "worker"]
    _options_exist(ready, worker["command"][1:])
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert worker["ports"][0]["containerPort"] == int(port)
    monthly = yaml.safe_load((DEPLOY / "k8s" / "partitions-cronjob.yaml").read_text("utf-8"))
    assert (monthly["kind"], monthly["spec"]["schedule"]) == ("CronJob", "0 3 1 * *")
    [ensure] = monthly["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert ensure["command"][:4] == ["tradefsm", "db", "partitions", "ensure"]
    assert ensure["envFrom"] == [{"secretRef": {"name": "tradefsm-owner"}}]  # DDL: the owner
    assert ready.json(*ensure["command"][1:]) == []  # SQLite: nothing to create (PostgreSQL:
    # tests/operations/test_partitions.py runs it)


def _before_close(cli: Cli, day: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli.env | {"TODAY": str(day), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(DEPLOY / "before-close.sh"), *args], capture_output=True,
                          text=True, env=env, cwd=cli.folder, timeout=120, check=False)  # fmt: skip


@pytest.mark.skipif(shutil.which("sh") is None, reason="a POSIX shell runs the recipe")
def test_before_the_close_reads_the_calendar_and_submits(ready: Cli) -> None:
    cal = calendar_for(DEFAULT_EXCHANGE)
    past = cal.last_on_or_before(days.now().date() - timedelta(days=1))
    done = _before_close(ready, past.day, "15", "--actor", "cron:rebalance", "--json")
    assert done.returncode == 0, done.stderr
    assert "has passed: submitting now" in done.stdout
    assert '"session": true' in done.stdout
    holiday = past.day + timedelta(days=1)
    while cal.is_session(holiday):
        holiday += timedelta(days=1)
    skipped = _before_close(ready, holiday, "15")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.strip() == f"no session on {holiday}"


def test_the_calendar_recipe_marks_an_early_close(ready: Cli) -> None:
    [recipe] = [b for b in _blocks("sh") if "tradefsm calendar" in b]
    [session] = ready.json(*_tradefsm_args(recipe))
    assert session["early_close"] is True  # the day after Thanksgiving
    assert session["close"].startswith("2026-11-27T18:00")  # 13:00 in New York
