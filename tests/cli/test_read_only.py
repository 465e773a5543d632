"""An archived copy can be audited: read commands open the database read-only and write nothing.

The copy sits in a folder that cannot be written, or is itself a file that cannot be written
(``chattr +i``, which holds even for root; ``chmod`` where tests do not run as root).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

READ_COMMANDS = (
    ("runs", "list"), ("audit", "verify"), ("audit", "transitions"), ("audit", "rejected"),
    ("audit", "time-in-state"), ("audit", "orders"), ("db", "current"), ("paper", "orders"),
    ("paper", "positions"), ("replay",),
)  # fmt: skip


def _lock(paths: list[Path]) -> bool:
    """Make paths unwritable; True if it held (chattr as root, chmod otherwise)."""
    chattr = ["chattr", "+i", *map(str, paths)]
    if (
        shutil.which("chattr")
        and subprocess.run(chattr, check=False, capture_output=True).returncode == 0
    ):
        return True
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return not any(_writable(p) for p in paths)


def _unlock(paths: list[Path]) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", *map(str, paths)], check=False, capture_output=True)
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


@pytest.fixture
def archive(tmp_path: Path) -> Cli:
    live = Cli(tmp_path / "live")
    live.folder.mkdir()
    live("db", "upgrade")
    live("run")
    archive = Cli(tmp_path / "archive")
    archive.folder.mkdir()
    for name in ("runs.db", "paper.db"):
        shutil.copy(live.folder / name, archive.folder / name)
    return archive


@pytest.fixture(params=["folder", "file"])
def locked(request: pytest.FixtureRequest, archive: Cli) -> Iterator[Cli]:
    files = [archive.folder / "runs.db", archive.folder / "paper.db"]
    paths = [archive.folder, *files] if request.param == "folder" else files
    if not _lock(paths):
        _unlock(paths)
        pytest.skip("cannot make files unwritable here")
    try:
        yield archive
    finally:
        _unlock(paths)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_read_commands_work_on_an_unwritable_copy(locked: Cli) -> None:
    before = _digest(locked.folder)
    run_id = locked.json("runs", "list", "--format", "json")[0]["run_id"]
    for command in READ_COMMANDS:
        locked(*command)
    locked("runs", "show", run_id)
    locked("audit", "export", "--run", run_id)
    locked("diagram", "--run", run_id)
    locked("replay", "--set", "max_order_notional=1", code=13)  # what-if on the archive
    locked("replay", "--strategy", "sixty-forty")  # planned again (prices not recorded: none)
    assert _digest(locked.folder) == before  # no byte written, no -wal or -shm file created
