"""Signed approvals as pure functions: the signed text, the check, and the guard's policy."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm.errors import InvalidInput
from fsm.guardcontext import GuardContext
from fsm.guards import approval_signed
from fsm.keyregistry import next_row, registry_findings
from fsm.kinds import Mode
from fsm.ledger import GENESIS_HASH, seal
from fsm.records import LedgerEntry
from fsm.settings import Settings
from fsm.signatures import ApprovalEvidence, check, sign, signed_text

NOW = datetime(2026, 11, 27, 14, 35, tzinfo=UTC)
DAY = date(2026, 11, 27)
KEY = Ed25519PrivateKey.generate()
ROWS = [next_row([], "bob", KEY.public_key(), "carol", NOW - timedelta(days=1))]
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def _ledger() -> list[LedgerEntry]:
    return [seal(GENESIS_HASH, run_id="run_1", seq=1, event="approval_required",
                 source="planning", target="awaiting_approval", accepted=True, actor="ann",
                 correlation_id="c", causation_id=None, occurred_at=NOW,
                 commits={"checkpoint": "ab" * 32})]  # fmt: skip


def _evidence(signed: str = "approve", **kw: object) -> ApprovalEvidence:
    """A decision bob signed (approve, or as given), with fields of ``kw`` changed after."""
    signature = sign(KEY, _ledger(), signed, "bob", "checked", NOW)
    fields = {"run_id": "run_1", "decision": signed, "plan": "ab" * 32,
              "signature": signature, "keys": tuple(ROWS), "now": NOW} | kw  # fmt: skip
    return ApprovalEvidence(**fields)  # type: ignore[arg-type]


@given(run_id=texts, plan=texts, decision=texts, reason=texts, actor=texts)
def test_the_signed_text_is_the_documented_canonical_json(
    run_id: str, plan: str, decision: str, reason: str, actor: str
) -> None:
    text = signed_text(run_id, plan, decision, reason, NOW, actor)
    body = {"actor": actor, "decision": decision, "plan": plan, "reason": reason,
            "run_id": run_id, "time": "2026-11-27T14:35:00.000000Z"}  # fmt: skip
    assert text == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text) == body


@settings(max_examples=50)
@given(reason=texts)
def test_a_signature_covers_the_reason_exactly(reason: str) -> None:
    signature = sign(KEY, _ledger(), "approve", "bob", reason, NOW)
    evidence = ApprovalEvidence("run_1", "approve", "ab" * 32, signature, tuple(ROWS), NOW)
    assert check(evidence, "bob", reason).status == "signed"
    assert check(evidence, "bob", reason + "!").status == "invalid"


@pytest.mark.parametrize(
    ("change", "actor", "problem"),
    [
        ({}, "bob", ""),
        ({"plan": "cd" * 32}, "bob", "does not verify"),
        ({"decision": "reject"}, "bob", "does not verify"),
        ({"run_id": "run_2"}, "bob", "does not verify"),
        ({"now": NOW + timedelta(minutes=6)}, "bob", "from the decision"),
        ({"keys": ()}, "bob", "no key"),
        ({}, "dave", "registered for dave"),
    ],
)
def test_a_signature_binds_run_plan_decision_time_and_key(
    change: dict[str, object], actor: str, problem: str
) -> None:
    evidence = _evidence(**change)
    result = check(evidence, actor, "checked")
    assert result.status == ("signed" if not problem else "invalid")
    assert problem in result.problem


def test_a_key_registered_after_signing_does_not_count() -> None:
    late = next_row([], "bob", KEY.public_key(), "carol", NOW + timedelta(seconds=1))
    assert "after it signed" in check(_evidence(keys=(late,)), "bob", "checked").problem


def _ctx(mode: Mode, evidence: ApprovalEvidence | None, **settings: object) -> GuardContext:
    return GuardContext(Settings(**settings), mode, DAY, DAY, actor="bob", reason="checked",
                        approval=evidence)  # type: ignore[arg-type]  # fmt: skip


def test_live_mode_always_requires_a_signed_approval() -> None:
    unsigned = _evidence(signature=None)
    assert approval_signed(_ctx(Mode.PAPER, unsigned)).passed
    refused = approval_signed(_ctx(Mode.LIVE, unsigned))
    assert not refused.passed
    assert "required" in refused.reason
    assert refused.inputs["required"] == "true"
    assert approval_signed(_ctx(Mode.LIVE, _evidence())).passed
    assert not approval_signed(_ctx(Mode.PAPER, unsigned, require_signed_approvals=True)).passed
    assert approval_signed(_ctx(Mode.LIVE, _evidence("reject", signature=None))).passed


def test_the_registry_chain_names_an_edited_row() -> None:
    other = Ed25519PrivateKey.generate().public_key()
    rows = [*ROWS, next_row(ROWS, "eve", other, "carol", NOW)]
    assert registry_findings(rows) == []
    edited = [rows[0], type(rows[1])(**{**rows[1].__dict__, "actor": "mallory"})]
    [finding] = registry_findings(edited)
    assert finding.kind == "key_registry_changed"
    assert "edited" in finding.problem
    with pytest.raises(InvalidInput, match="already registered"):
        next_row(rows, "zed", other, "carol", NOW)
