"""The hand check of docs/approvals.md ("Signed approvals"), run as written against a real
database: it accepts what tradefsm signed and catches a changed signature or reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fsm.keyfiles import key_id, load_public_key
from tests.approvals.conftest import Board
from tests.cli.conftest import Cli

PAGE = Path(__file__).parents[2] / "docs" / "approvals.md"


@pytest.fixture
def recipe() -> Any:
    section = PAGE.read_text(encoding="utf-8").split("## Signed approvals", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(block, str(PAGE), "exec"), namespace)  # the page's own code, as written
    return namespace["check_approvals"]


def _database(cli: Cli) -> str:
    return str(cli.env["TRADEFSM_DB"]).removeprefix("sqlite:///")


def test_the_hand_check_accepts_signed_and_unsigned_decisions(sqlite_board: Board,
                                                              recipe: Any) -> None:  # fmt: skip
    board = sqlite_board
    first = board.parked()
    board.approve(first, "--key", str(board.key("bob")))
    second = board.parked("second")
    board.cli("reject", second, "--actor", "bob", "--reason", "not today", "--key",
              str(board.key("eve")), code=6)  # fmt: skip
    board.cli("reject", second, "--actor", "bob", "--reason", "not today")
    assert [r[1:] for r in recipe(_database(board.cli), first)] == [("approved", "bob", "signed")]
    assert [r[1:] for r in recipe(_database(board.cli), second)] == [
        ("rejected", "bob", "no key " + _fingerprint(board, "eve") + " registered for bob"),
        ("rejected", "bob", "unsigned"),
    ]


def test_the_hand_check_catches_a_changed_reason(sqlite_board: Board, recipe: Any) -> None:
    board = sqlite_board
    run_id = board.parked()
    board.approve(run_id, "--key", str(board.key("bob")))
    board.tamper("UPDATE ledger SET guards = REPLACE(guards, '\"checked\"', '\"fine\"') "
                 "WHERE event = 'approved'")  # fmt: skip
    [(_, _, _, status)] = recipe(_database(board.cli), run_id)
    assert status == "signature does not verify"


def _fingerprint(board: Board, who: str) -> str:
    return key_id(load_public_key(board.public(who)))
