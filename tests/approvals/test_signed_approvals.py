"""Signed approvals on SQLite and PostgreSQL: registering keys, approving and rejecting with
them, the policy, and what `runs show` and `audit verify` say."""

from __future__ import annotations

import pytest

from tests.approvals.conftest import Board
from tests.cli.conftest import one_line_error


def test_a_registered_key_is_listed_with_who_added_it(board: Board) -> None:
    [row] = board.cli.json("keys", "list", "--format", "json")
    assert (row["seq"], row["actor"], row["added_by"]) == (1, "bob", "admin-carol")
    assert len(row["fingerprint"]) == 16
    assert row["public_key"] == board.public("bob").read_text()
    table = board.cli("keys", "list").stdout
    assert "bob" in table
    assert row["fingerprint"] in table


def test_a_signed_approval_executes_and_shows_its_key(board: Board) -> None:
    run_id = board.parked()
    board.approve(run_id, "--key", str(board.key("bob")))
    shown = board.cli.json("runs", "show", run_id, "--format", "json")
    assert shown["run"]["state"] == "done"
    [approval] = shown["approvals"]
    [fingerprint] = [k["fingerprint"] for k in board.cli.json("keys", "list", "--format", "json")]
    assert approval["status"] == "signed"
    assert approval["fingerprint"] == fingerprint
    [decision] = [g for e in shown["ledger"] if e["event"] == "approved" for g in e["guards"]
                  if g["name"] == "approval_signed"]  # fmt: skip
    assert decision["inputs"]["signature"]
    assert decision["inputs"]["plan"]
    assert f"signed with key {fingerprint}" in board.cli("runs", "show", run_id).stdout
    assert board.cli.json("audit", "verify", "--json")["ok"] is True


def test_an_unsigned_approval_passes_unless_required_and_shows_as_unsigned(board: Board) -> None:
    run_id = board.parked()
    board.approve(run_id)
    [approval] = board.cli.json("runs", "show", run_id, "--format", "json")["approvals"]
    assert approval["status"] == "unsigned"


def test_a_key_not_registered_for_the_approver_is_refused_and_ledgered(board: Board) -> None:
    run_id = board.parked()
    line = one_line_error(board.cli("approve", run_id, "--actor", "bob", "--reason", "checked",
                                    "--key", str(board.key("eve")), code=6))  # fmt: skip
    assert "approval_signed" in line
    assert "is registered for bob" in line
    # bob's own key, used by someone else, is not theirs either
    line = one_line_error(board.cli("approve", run_id, "--actor", "dave", "--reason", "checked",
                                    "--key", str(board.key("bob")), code=6))  # fmt: skip
    assert "approval_signed" in line
    assert "for dave" in line
    shown = board.cli.json("runs", "show", run_id, "--format", "json")
    assert shown["run"]["state"] == "awaiting_approval"
    assert [a["status"] for a in shown["approvals"]] == ["invalid", "invalid"]
    assert board.cli.json("audit", "verify", "--json")["ok"] is True  # refusals are history


def test_unsigned_approvals_are_refused_when_the_policy_requires_them(board: Board) -> None:
    board.cli.env["TRADEFSM_REQUIRE_SIGNED_APPROVALS"] = "true"
    run_id = board.parked()
    line = one_line_error(board.cli("approve", run_id, "--actor", "bob", "--reason", "ok",
                                    code=6))  # fmt: skip
    assert "approval_signed" in line
    assert "signed approvals are required" in line
    board.approve(run_id, "--key", str(board.key("bob")))
    assert board.cli.json("runs", "show", run_id, "--format", "json")["run"]["state"] == "done"


def test_a_rejection_need_not_be_signed_but_a_signed_one_is_checked(board: Board) -> None:
    board.cli.env["TRADEFSM_REQUIRE_SIGNED_APPROVALS"] = "true"
    run_id = board.parked()
    refused = board.cli("reject", run_id, "--actor", "bob", "--reason", "no", "--key",
                        str(board.key("eve")), code=6)  # fmt: skip
    assert "approval_signed" in one_line_error(refused)
    board.cli("reject", run_id, "--actor", "bob", "--reason", "no", "--key",
              str(board.key("bob")), code=1)  # fmt: skip
    shown = board.cli.json("runs", "show", run_id, "--format", "json")
    assert [a["status"] for a in shown["approvals"]] == ["invalid", "signed"]


def test_verify_finds_a_changed_signature(board: Board) -> None:
    run_id = board.parked()
    board.approve(run_id, "--key", str(board.key("bob")))
    [approval] = board.cli.json("runs", "show", run_id, "--format", "json")["ledger"][5:6]
    [signed] = [g["inputs"] for g in approval["guards"] if g["name"] == "approval_signed"]
    forged = "A" + signed["signature"][1:] if signed["signature"][0] != "A" else "B" + signed[
        "signature"][1:]  # fmt: skip
    cast = "CAST(REPLACE(CAST(guards AS TEXT), :old, :new) AS jsonb)"
    if not board.url.startswith("postgresql"):
        cast = "REPLACE(guards, :old, :new)"
    board.tamper(f"UPDATE ledger SET guards = {cast} WHERE run_id = :run AND seq = :seq",
                 old=signed["signature"], new=forged, run=run_id, seq=approval["seq"])  # fmt: skip
    found = board.findings()
    bad = [f for f in found if f["kind"] == "bad_approval_signature"]
    assert [(f["run_id"], f["seq"]) for f in bad] == [(run_id, approval["seq"])]
    shown = board.cli.json("runs", "show", run_id, "--format", "json")
    assert shown["approvals"][0]["status"] == "invalid"
    assert "INVALID signature" in board.cli("runs", "show", run_id).stdout


def test_verify_finds_a_changed_key_registry_row(board: Board) -> None:
    run_id = board.parked()
    board.approve(run_id, "--key", str(board.key("bob")))
    board.tamper("UPDATE approver_keys SET actor = 'mallory' WHERE seq = 1")
    kinds = {(f["kind"], f["run_id"]) for f in board.findings()}
    assert kinds == {("key_registry_changed", None), ("bad_approval_signature", run_id)}


def test_verify_finds_a_deleted_key_registry_row(board: Board) -> None:
    board.cli("keys", "add", "--actor", "eve", "--public-key", str(board.public("eve")),
              "--by", "admin-carol")  # fmt: skip
    board.tamper("DELETE FROM approver_keys WHERE seq = 1")
    [finding] = board.findings()
    assert finding["kind"] == "key_registry_changed"
    assert "row 1 is missing" in str(finding["problem"])


def test_key_registration_refusals_are_one_line(board: Board) -> None:
    cli = board.cli
    (cli.folder / "junk.pem").write_text("not a key\n")
    cases = [
        (("--actor", "eve", "--public-key", "missing.pub", "--by", "carol"), "cannot read"),
        (("--actor", "eve", "--public-key", "junk.pem", "--by", "carol"), "not a PEM key"),
        (("--actor", "eve", "--public-key", str(board.key("eve")), "--by", "carol"),
         "not a PEM key"),
        (("--actor", "eve", "--public-key", str(board.public("bob")), "--by", "carol"),
         "already registered"),
        (("--actor", "eve", "--public-key", str(board.public("eve")), "--by", "EVE"),
         "may not register their own key"),
        (("--actor", "eve\u200b", "--public-key", str(board.public("eve")), "--by", "carol"),
         "not allowed"),
        (("--actor", "eve", "--public-key", str(board.public("eve")), "--by", "car\u200bol"),
         "not allowed"),
    ]  # fmt: skip
    for args, said in cases:
        assert said in one_line_error(cli("keys", "add", *args, code=2)), args
    assert len(cli.json("keys", "list", "--format", "json")) == 1


def test_an_unreadable_private_key_stops_approve_before_anything_is_written(board: Board) -> None:
    run_id = board.parked()
    line = one_line_error(board.cli("approve", run_id, "--actor", "bob", "--reason", "ok",
                                    "--key", str(board.public("bob")), code=2))  # fmt: skip
    assert "not a PEM key" in line
    assert board.cli.json("runs", "show", run_id, "--format", "json")["approvals"] == []


def test_the_registry_refuses_update_and_delete(board: Board) -> None:
    from sqlalchemy import text

    from fsm.errors import HistoryIsAppendOnly
    from persistence.errors import translate_errors

    engine = board.engine()
    for statement in ("UPDATE approver_keys SET actor = 'mallory'", "DELETE FROM approver_keys"):
        with pytest.raises(HistoryIsAppendOnly), translate_errors(), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
    assert board.cli.json("keys", "list", "--format", "json")[0]["actor"] == "bob"
