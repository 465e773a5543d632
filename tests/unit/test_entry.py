"""Ctrl-C while the command starts (or in a command without a safe point) is one line."""

from __future__ import annotations

import pytest

import fsm.cli
from fsm import entry


def test_ctrl_c_outside_a_run_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fsm.cli, "main", interrupted)
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "error: interrupted (Ctrl-C)\n"
