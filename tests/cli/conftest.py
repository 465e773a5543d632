"""The `tradefsm` command in a real process, with its own database and paper broker files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
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

    def upgrade(self) -> None:
        """`db upgrade` of this folder's SQLite file: a copy of the one file the real command
        migrated in this test process (the migrations themselves are tested in
        tests/migrations). A database elsewhere (`TRADEFSM_DB` changed) runs the command."""
        target = self.folder / "runs.db"
        if self.env["TRADEFSM_DB"] != f"sqlite:///{target}" or target.exists():
            self("db", "upgrade")
            return
        with closing(sqlite3.connect(_migrated())) as src, closing(sqlite3.connect(target)) as copy:
            src.backup(copy)

    def json(self, *args: str, code: int = 0, env_extra: dict[str, str] | None = None) -> Any:
        return json.loads(self(*args, code=code, env_extra=env_extra).stdout)


_TEMPLATES: list[tempfile.TemporaryDirectory[str]] = []


def _migrated() -> Path:
    """The database file `db upgrade` left at head, made once per test process."""
    if not _TEMPLATES:
        folder = tempfile.TemporaryDirectory(prefix="tradefsm-migrated-")
        Cli(Path(folder.name))("db", "upgrade")
        _TEMPLATES.append(folder)
    return Path(_TEMPLATES[0].name) / "runs.db"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def ready(cli: Cli) -> Cli:
    cli.upgrade()
    return cli


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]
