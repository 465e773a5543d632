"""The console's run page shows each approval's signature, verified against the registry."""

from __future__ import annotations

from starlette.testclient import TestClient

from fsm.console.app import Console
from persistence.approvers import SqlApproverKeys
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.approvals.conftest import Board


def test_the_run_page_shows_signed_and_refused_approvals(sqlite_board: Board) -> None:
    board = sqlite_board
    run_id = board.parked()
    board.cli("approve", run_id, "--actor", "bob", "--reason", "ok", "--key",
              str(board.key("eve")), code=6)  # fmt: skip
    board.approve(run_id, "--key", str(board.key("bob")))
    [key] = board.cli.json("keys", "list", "--format", "json")
    reader = make_engine(board.url, read_only=True)
    console = Console(SqlRunStore(reader), SqlAudit(reader), approvers=SqlApproverKeys(reader))
    page = TestClient(console.app()).get(f"/runs/{run_id}").text
    section = page.split('id="approvals"', 1)[1].split("</table>", 1)[0]
    assert f"signed with key <code>{key['fingerprint']}</code>" in section
    assert "INVALID signature" in section
    assert "(refused)" in section
    reader.dispose()
