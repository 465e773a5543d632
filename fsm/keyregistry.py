"""The approver key registry: who may sign approvals with which Ed25519 public key.

An append-only list of rows, each ``seq``, ``actor`` (whose key), ``public_key`` (PEM,
SubjectPublicKeyInfo, as `tradefsm audit keygen` writes it), ``fingerprint`` (the key id of
``fsm.digests``: the first 16 hex digits of the SHA-256 of the key's raw bytes), ``added_by``
and ``added_at``. The rows form a hash chain of their own::

    hash = sha256(prev_hash + "\\n" + canonical_json({"actor", "added_at", "added_by",
                                                       "fingerprint", "public_key", "seq"}))

with the first row's ``prev_hash`` the ledger's ``GENESIS_HASH``; `audit verify` recomputes
it (``registry_findings``), so an edited or deleted row is a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from fsm.actors import actor_name, same_actor
from fsm.audit import Finding
from fsm.canonical import canonical_json, sha256_hex, utc_text
from fsm.chains import chain_problems
from fsm.errors import InvalidInput
from fsm.ledger import GENESIS_HASH

if TYPE_CHECKING:  # cryptography loads with the first key read, not on every run
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TABLE = "approver_keys"


@dataclass(frozen=True)
class ApproverKey:
    """One registry row."""

    seq: int
    actor: str
    fingerprint: str
    public_key: str  # PEM text
    added_by: str
    added_at: datetime
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "actor": self.actor, "fingerprint": self.fingerprint,
                "added_by": self.added_by, "added_at": utc_text(self.added_at),
                "public_key": self.public_key, "hash": self.hash}  # fmt: skip

    def key(self) -> Ed25519PublicKey | None:
        """The public key, or None when the stored text is not an Ed25519 key."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415  # see above
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        try:
            key = serialization.load_pem_public_key(self.public_key.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            return None
        return key if isinstance(key, Ed25519PublicKey) else None


class ApproverKeys(Protocol):
    """The registry port. ``add`` appends one row in one transaction (ConcurrentModification
    when another row took its ``seq`` first); rows are never changed or removed."""

    def add(self, actor: str, public_key: Ed25519PublicKey, added_by: str,
            now: datetime) -> ApproverKey: ...  # fmt: skip

    def registered(self) -> list[ApproverKey]:
        """Every row, by ``seq``."""
        ...


def pem(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415  # see above

    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def row_hash(prev_hash: str, seq: int, actor: str, fingerprint: str, public_key: str,
             added_by: str, added_at: datetime | str) -> str:  # fmt: skip
    at = added_at if isinstance(added_at, str) else utc_text(added_at)
    body = {"actor": actor, "added_at": at, "added_by": added_by, "fingerprint": fingerprint,
            "public_key": public_key, "seq": seq}  # fmt: skip
    return sha256_hex(f"{prev_hash}\n{canonical_json(body)}")


def next_row(
    rows: Sequence[ApproverKey], actor: str, public_key: Ed25519PublicKey, added_by: str,
    now: datetime,
) -> ApproverKey:  # fmt: skip
    """The row that registers ``public_key`` for ``actor`` after ``rows``; InvalidInput (one
    line, exit 2) for a refused name, an admin adding their own key, or a key already there."""
    actor, added_by = actor_name(actor), actor_name(added_by)
    if same_actor(actor, added_by):
        raise InvalidInput(f"{added_by} may not register their own key: another person (--by) "
                           "registers an approver's key")  # fmt: skip
    from fsm.keyfiles import key_id  # noqa: PLC0415  # it loads cryptography

    fingerprint = key_id(public_key)
    taken = next((r for r in rows if r.fingerprint == fingerprint), None)
    if taken is not None:
        raise InvalidInput(f"key {fingerprint} is already registered (for {taken.actor}, "
                           f"row {taken.seq}): each key belongs to one approver")  # fmt: skip
    seq, prev = (rows[-1].seq + 1, rows[-1].hash) if rows else (1, GENESIS_HASH)
    text = pem(public_key)
    digest = row_hash(prev, seq, actor, fingerprint, text, added_by, now)
    return ApproverKey(seq, actor, fingerprint, text, added_by, now, prev, digest)


def keys_of(rows: Iterable[ApproverKey], actor: str) -> tuple[ApproverKey, ...]:
    return tuple(r for r in rows if same_actor(r.actor, actor))


def registry_findings(rows: Sequence[ApproverKey]) -> list[Finding]:
    """What does not verify in the registry's chain (an edited, inserted or deleted row) and
    a row whose public key is not the key its fingerprint names."""
    from fsm.keyfiles import key_id  # noqa: PLC0415  # it loads cryptography

    problems = {row.seq: p for row, p in chain_problems(rows, _rehash)}
    for row in rows:
        key = row.key()
        if row.seq not in problems and (key is None or key_id(key) != row.fingerprint):
            problems[row.seq] = "its public key is not the Ed25519 key its fingerprint names"
    return [Finding("key_registry_changed", None, problems[row.seq],
                    key=f"{TABLE} row {row.seq} ({row.actor})")
            for row in rows if row.seq in problems]  # fmt: skip


def _rehash(prev: str, row: ApproverKey) -> str:
    return row_hash(prev, row.seq, row.actor, row.fingerprint, row.public_key, row.added_by,
                    row.added_at)  # fmt: skip
