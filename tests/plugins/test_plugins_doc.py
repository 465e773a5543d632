"""docs/plugins.md's shell block runs as written, with the example plugin installed."""

from __future__ import annotations

from pathlib import Path

from tests.test_doc_examples import _run_shell_blocks


def test_the_plugins_page_runs_as_written(tmp_path: Path) -> None:
    out = _run_shell_blocks("plugins.md", tmp_path)
    assert "sixty-forty" in out
    assert "tradefsm-sixty-forty" in out
