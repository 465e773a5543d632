"""Every command and every SQL query in docs/audit-queries.md runs against a real database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.audit.conftest import History
from tests.conftest import TRADING_DAY

PAGE = Path(__file__).parents[2] / "docs" / "audit-queries.md"
BLOCKS = re.findall(r"```(sh|sql)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
COMMANDS = [line for kind, body in BLOCKS if kind == "sh" for line in body.splitlines() if line]
QUERIES = [body.strip() for kind, body in BLOCKS if kind == "sql"]


def test_the_page_has_examples() -> None:
    assert len(COMMANDS) >= 10
    assert len(QUERIES) >= 8


@pytest.mark.parametrize("command", COMMANDS)
def test_cookbook_command(sqlite_history: History, command: str, tmp_path: Path) -> None:
    words = command.replace("RUN_ID", sqlite_history.done.run_id).replace("ACCOUNT", "beta")
    args = words.split()
    assert args[0] == "tradefsm"
    env = {**os.environ, "TRADEFSM_DB": sqlite_history.url}
    done = subprocess.run([sys.executable, "-m", "fsm", *args[1:]], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.parametrize("query", QUERIES)
def test_cookbook_query(history: History, query: str) -> None:
    params = {"run_id": history.done.run_id, "account": "beta", "since": TRADING_DAY.date()}
    with history.store.engine.connect() as conn:
        assert conn.execute(text(query), params).fetchall()
