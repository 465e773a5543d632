"""The `tradefsm` command in a real process, with its own database and paper broker files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


class Cli:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")},
            "TRADEFSM_DB": f"sqlite:///{folder / 'runs.db'}",
            "TRADEFSM_PAPER_DB": str(folder / "paper.db"),
        }

    def __call__(
        self, *args: str, code: int = 0, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "fsm", *args],
            capture_output=True, text=True, env=self.env | (env_extra or {}), cwd=self.folder,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def json(self, *args: str, code: int = 0, env_extra: dict[str, str] | None = None) -> Any:
        return json.loads(self(*args, code=code, env_extra=env_extra).stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def ready(cli: Cli) -> Cli:
    cli("db", "upgrade")
    return cli


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]
