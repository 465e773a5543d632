"""Ctrl-C while the command starts (or in a command without a safe point) is one line."""

from __future__ import annotations

import gc
from collections.abc import Iterator

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


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("thawed")
def test_a_command_runs_with_the_collector_on_and_its_imports_set_aside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long command (a worker, the console) still has its cycles collected; what was imported
    before it started is not walked again."""
    seen: list[tuple[bool, int]] = []
    monkeypatch.setattr(
        fsm.cli, "main", lambda: seen.append((gc.isenabled(), gc.get_freeze_count()))
    )
    entry.main()
    [(enabled, frozen)] = seen
    assert enabled
    assert frozen > 0
    assert gc.isenabled()
