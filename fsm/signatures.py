"""Signed approvals: a person's decision on a plan, signed with their registered Ed25519 key.

The signed text is the canonical JSON (``fsm.canonical``) of::

    {"actor", "decision": "approve" | "reject", "plan", "reason", "run_id", "time"}

where ``plan`` is the plan's checkpoint hash (the ``commits.checkpoint`` of the last accepted
ledger row before the decision that stored a checkpoint: the row that parked the run with its
plan) and ``time`` the signing time as canonical UTC text. The ``approval_signed`` guard keeps
``fingerprint``, ``signature`` (base64), ``signed_at`` (that time) and ``plan`` in its inputs,
which the ledger chain hashes; ``actor`` and ``reason`` are those of ``operator_named``.

A signature verifies when a key with its fingerprint was registered for the actor (the same
person, as four eyes compares names) at or before ``signed_at``, ``signed_at`` is within
``MAX_SKEW`` of the decision, and the Ed25519 signature verifies over that text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fsm.audit import Finding
from fsm.canonical import canonical_json, utc_text
from fsm.errors import InvalidInput
from fsm.keyregistry import ApproverKey, keys_of
from fsm.machines.specs import APPROVAL
from fsm.records import LedgerEntry

if TYPE_CHECKING:  # cryptography loads when a signature is made or checked, not on every run
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

GUARD = "approval_signed"
# Ledger event → signed decision: the approval state's decisions (fsm.machines.specs).
DECISIONS: dict[str, str] = {event: d.verb for event, d in APPROVAL.decisions.items()}
MAX_SKEW = timedelta(minutes=5)
Status = Literal["signed", "unsigned", "invalid"]


@dataclass(frozen=True)
class ApprovalSignature:
    fingerprint: str
    signed_at: datetime
    signature: str  # base64 of the Ed25519 signature


@dataclass(frozen=True)
class ApprovalEvidence:
    """What the ``approval_signed`` guard checks: the decision, the plan it is about, the
    signature given (None: unsigned), and the keys registered for the actor."""

    run_id: str
    decision: str
    plan: str
    signature: ApprovalSignature | None
    keys: tuple[ApproverKey, ...]
    now: datetime


@dataclass(frozen=True)
class SignatureCheck:
    status: Status
    problem: str = ""


def signed_text(run_id: str, plan: str, decision: str, reason: str, signed_at: datetime | str,
                actor: str) -> str:  # fmt: skip
    at = signed_at if isinstance(signed_at, str) else utc_text(signed_at)
    return canonical_json({"actor": actor, "decision": decision, "plan": plan,
                           "reason": reason, "run_id": run_id, "time": at})  # fmt: skip


def plan_hash(ledger: Sequence[LedgerEntry], before_seq: int | None = None) -> str:
    """The plan's checkpoint hash: the last accepted row (before ``before_seq``) that stored
    a checkpoint commits to it; '' when none did (a run written before commitments)."""
    rows = (e for e in reversed(ledger) if before_seq is None or e.seq < before_seq)
    return next((e.commits["checkpoint"] for e in rows
                 if e.accepted and "checkpoint" in e.commits), "")  # fmt: skip


def sign(key: Ed25519PrivateKey, ledger: Sequence[LedgerEntry], decision: str, actor: str,
         reason: str, now: datetime) -> ApprovalSignature:  # fmt: skip
    """Sign ``decision`` (approve or reject) on the plan of the run whose ``ledger`` is given."""
    if not ledger:
        raise InvalidInput("no ledger rows: nothing to sign")
    plan = plan_hash(ledger)
    if not plan:
        raise InvalidInput(f"run {ledger[0].run_id} has no plan checkpoint hash to sign")
    text = signed_text(ledger[0].run_id, plan, decision, reason, now, actor)
    from fsm.keyfiles import key_id  # noqa: PLC0415  # see TYPE_CHECKING above

    signature = base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii")
    return ApprovalSignature(key_id(key.public_key()), now, signature)


def check(evidence: ApprovalEvidence | None, actor: str, reason: str) -> SignatureCheck:
    """Whether the decision is signed, unsigned, or carries a signature that does not verify."""
    if evidence is None or evidence.signature is None:
        return SignatureCheck("unsigned")
    sig = evidence.signature
    key = next((k for k in keys_of(evidence.keys, actor) if k.fingerprint == sig.fingerprint),
               None)  # fmt: skip
    public = key.key() if key else None
    skew = abs(evidence.now - sig.signed_at)
    text = signed_text(evidence.run_id, evidence.plan, evidence.decision, reason, sig.signed_at,
                       actor)  # fmt: skip
    if key is None or public is None:
        problem = f"no key {sig.fingerprint} is registered for {actor} (`tradefsm keys list`)"
    elif key.added_at > sig.signed_at:
        problem = f"key {sig.fingerprint} was registered after it signed ({utc_text(key.added_at)})"
    elif skew > MAX_SKEW:
        problem = f"signed at {utc_text(sig.signed_at)}, {skew} from the decision"
    elif not _valid(public, text, sig.signature):
        problem = f"the signature does not verify with key {sig.fingerprint}"
    else:
        return SignatureCheck("signed")
    return SignatureCheck("invalid", problem)


def _valid(public: Ed25519PublicKey, text: str, signature: str) -> bool:
    from fsm.digests import signature_valid  # noqa: PLC0415  # see TYPE_CHECKING above

    return signature_valid(public, text, signature)


def guard_outcome(
    evidence: ApprovalEvidence | None, actor: str, reason: str, required: bool
) -> tuple[bool, str, dict[str, str]]:
    """The ``approval_signed`` decision: passed, why, and the inputs the ledger keeps."""
    result = check(evidence, actor, reason)
    sig = evidence.signature if evidence else None
    fingerprint = sig.fingerprint if sig else ""
    if result.status == "signed":
        passed, why = True, f"signed by {actor} with key {fingerprint}"
    elif result.status == "invalid":
        passed, why = False, f"signature refused: {result.problem}"
    else:
        passed = not required
        why = ("unsigned: signed approvals are required (TRADEFSM_REQUIRE_SIGNED_APPROVALS, "
               "always in live mode); approve with --key" if required else "unsigned")  # fmt: skip
    inputs = {
        "status": result.status, "required": str(required).lower(), "fingerprint": fingerprint,
        "signature": sig.signature if sig else "",
        "signed_at": utc_text(sig.signed_at) if sig else "",
        "plan": evidence.plan if evidence else "",
    }  # fmt: skip
    return passed, why, inputs


@dataclass(frozen=True)
class ApprovalStatus:
    """One recorded approval or rejection and its signature, as re-checked now."""

    seq: int
    event: str
    actor: str
    accepted: bool
    status: Status
    fingerprint: str
    signed_at: str
    problem: str

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def recorded(
    ledger: Sequence[LedgerEntry], keys: Iterable[ApproverKey] | None
) -> list[ApprovalStatus]:
    """Every approval and rejection of a run with its signature status. With ``keys`` (the
    registry) a stored signature is verified again; without, its recorded status is shown."""
    rows = tuple(keys) if keys is not None else None
    out = []
    for entry in ledger:
        if entry.event not in DECISIONS:
            continue
        given = {g.name: g.inputs for g in entry.guards}
        inputs, reason = given.get(GUARD, {}), given.get("operator_named", {}).get("reason", "")
        status: Status = "unsigned" if not inputs.get("signature") else "signed"
        problem = ""
        if rows is not None and status == "signed":
            result = check(_evidence(entry, inputs, ledger, rows), entry.actor, reason)
            status, problem = result.status, result.problem
        elif inputs.get("status") == "invalid":
            status = "invalid"
        out.append(ApprovalStatus(entry.seq, entry.event, entry.actor, entry.accepted, status,
                                  inputs.get("fingerprint", ""), inputs.get("signed_at", ""),
                                  problem))  # fmt: skip
    return out


def findings(ledger: Sequence[LedgerEntry], keys: Sequence[ApproverKey]) -> list[Finding]:
    """An accepted approval or rejection whose stored signature no longer verifies."""
    return [
        Finding("bad_approval_signature", ledger[0].run_id, f"{s.event} by {s.actor}: {s.problem}",
                seq=s.seq)
        for s in recorded(ledger, keys) if s.accepted and s.status == "invalid"
    ]  # fmt: skip


def _evidence(entry: LedgerEntry, inputs: dict[str, str], ledger: Sequence[LedgerEntry],
              keys: Sequence[ApproverKey]) -> ApprovalEvidence:  # fmt: skip
    try:
        at = datetime.fromisoformat(inputs.get("signed_at", "").replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:  # unreadable: refused as too far off
        at = entry.occurred_at + 2 * MAX_SKEW
    signature = ApprovalSignature(inputs.get("fingerprint", ""), at, inputs.get("signature", ""))
    return ApprovalEvidence(entry.run_id, DECISIONS[entry.event], plan_hash(ledger, entry.seq),
                            signature, keys_of(keys, entry.actor), entry.occurred_at)  # fmt: skip
