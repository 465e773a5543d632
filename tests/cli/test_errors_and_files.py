"""Bad files, settings and paths given to the command: one line naming them and a documented
exit code, never a traceback; files are neither created nor overwritten unasked."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, one_line_error


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


@pytest.mark.parametrize("how", ["environment", "flag"])
def test_an_unknown_log_level_names_the_setting_and_the_levels(cli: Cli, how: str) -> None:
    if how == "flag":
        done = cli("--log-level", "LOUD", "runs", "list", code=2)
        name = "--log-level"
    else:
        done = cli("runs", "list", code=2, env_extra={"TRADEFSM_LOG_LEVEL": "LOUD"})
        name = "TRADEFSM_LOG_LEVEL"
    line = one_line_error(done)
    assert name in line
    assert "'LOUD'" in line
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in line
    assert cli("--log-level", "debug", "failpoints").returncode == 0
