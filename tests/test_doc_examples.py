"""The README's tour, the shell blocks of the tutorial and the Python blocks of the migration
guide really run, as written, on any day (the README tour, which dates its own price file,
again a year ahead)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.commands.console import PORT_ENV
from tests.ports import free_port

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def _blocks(page: str, kind: str, text: str | None = None) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8") if text is None else text
    return re.findall(rf"```{kind}\n(.*?)```", text, re.DOTALL)


def _run_shell_blocks(page: str, folder: Path, blocks: list[str] | None = None) -> str:
    blocks = _blocks(page, "sh") if blocks is None else blocks
    assert blocks
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env[PORT_ENV] = str(free_port())  # a console the docs start listens where nothing else does
    out = []
    for block in blocks:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        out.append(done.stdout)
    return "".join(out)


@pytest.mark.dated
def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A 60-second tour", 1)[1].split("\n## ", 1)[0]
    [block] = _blocks("README.md", "sh", tour)
    out = _run_shell_blocks("README.md", tmp_path, [block])
    assert "account own-prices, mode paper" in out  # the price file dated today was accepted
    assert {"run.svg", "bundle.json", "keys", "digests"} <= {p.name for p in tmp_path.iterdir()}


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    assert "8 orders, each once" in _run_shell_blocks("tutorial.md", tmp_path)


def test_resume_examples_run_as_written(tmp_path: Path) -> None:
    out = _run_shell_blocks("resume.md", tmp_path)
    assert "'on_resume': 'reconcile'" in out
    assert "cancelled by ops-alice" in out
    assert "waits for approval" in out


def test_operations_examples_run_as_written(tmp_path: Path) -> None:
    assert "no drift" in _run_shell_blocks("operations.md", tmp_path)


@pytest.mark.parametrize("block", _blocks("migration.md", "python"))
def test_migration_guide_examples_run(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the facade's history goes to ./tradefsm.db by default
    monkeypatch.delenv("TRADEFSM_DB", raising=False)
    exec(compile(block, "docs/migration.md", "exec"), {})  # the guide's own code, as written
    assert (tmp_path / "tradefsm.db").exists() or "Engine(" in block


def test_the_controls_recipe_runs_as_written(tmp_path: Path) -> None:
    out = _run_shell_blocks("controls.md", tmp_path)
    assert "policy version 4 in force (the default policy: max_orders=40), by risk-bob" in out
    assert "waits for a second person" in out


def test_the_policy_table_is_the_code() -> None:
    from fsm.docs import policy_markdown

    assert policy_markdown() in (DOCS / "controls.md").read_text(encoding="utf-8")
