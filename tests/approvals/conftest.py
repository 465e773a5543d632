"""A run database on each backend with an approver key registered and a plan waiting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from fsm.keyfiles import generate_keys
from persistence import append_only
from persistence.engine import make_engine
from tests.cli.conftest import Cli
from tests.conftest import restore_triggers


@dataclass
class Board:
    """The command line on one database: ``bob`` has a registered key, ``eve`` has one that
    is not registered; ``parked()`` starts a run by ``ann`` that waits for approval."""

    cli: Cli
    url: str

    def key(self, who: str) -> Path:
        return self.cli.folder / who / "tradefsm-audit.key"

    def public(self, who: str) -> Path:
        return self.cli.folder / who / "tradefsm-audit.pub"

    def parked(self, account: str = "paper") -> str:
        self.cli("run", "--actor", "ann", "--account", account, code=9)
        [waiting] = self.cli.json("runs", "list", "--state", "awaiting_approval", "--account",
                                  account, "--format", "json")  # fmt: skip
        return str(waiting["run_id"])

    def approve(self, run_id: str, *extra: str, code: int = 0) -> str:
        done = self.cli("approve", run_id, "--actor", "bob", "--reason", "checked", *extra,
                        code=code)  # fmt: skip
        return done.stderr

    def tamper(self, statement: str, **params: str) -> None:
        """Change the database behind tradefsm's back: triggers dropped first."""
        engine = self.engine()
        with engine.begin() as conn:
            append_only.drop(conn, ("ledger", "approver_keys"))
            conn.execute(text(statement), params)
            restore_triggers(conn)
        engine.dispose()

    def engine(self) -> Engine:
        return make_engine(self.url)

    def findings(self) -> list[dict[str, object]]:
        report = self.cli.json("audit", "verify", "--json", code=8)
        return list(report["findings"])


@pytest.fixture
def board(tmp_path: Path, db_url: str) -> Board:
    return make_board(tmp_path, db_url)


@pytest.fixture
def sqlite_board(tmp_path: Path, sqlite_url: str) -> Board:
    return make_board(tmp_path, sqlite_url)


def make_board(tmp_path: Path, db_url: str) -> Board:
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_DB"] = db_url
    cli.env["TRADEFSM_APPROVAL_NOTIONAL"] = "1000"
    cli.upgrade()
    for who in ("bob", "eve"):
        generate_keys(tmp_path / who)  # as `audit keygen --out WHO` does (tested in tests/audit)
    cli("keys", "add", "--actor", "bob", "--public-key", "bob/tradefsm-audit.pub", "--by",
        "admin-carol")  # fmt: skip
    return Board(cli, db_url)
