"""Signed digests: run heads anchored outside the run database (Ed25519).

A digest lists the ``[run_id, seq, head_hash]`` of every run changed since the previous
digest and the previous digest's hash and signature, so digests form a chain of their own.
Version 2 also commits to every run it covers: ``root`` is the Merkle tree head
(``fsm.merkle``, RFC 9162) over the ``[run_id, seq, head_hash]`` of every run sealed by it or
an earlier digest (the latest head of each), and ``runs_total`` is their number. Its body::

    {"created_at", "key_id", "n", "previous": {"digest_hash", "n", "signature"} | null,
     "root", "runs": [[run_id, seq, head_hash], ...] sorted, "runs_total", "version": 2}

is signed as RFC 8785 (JCS) canonical JSON (``signed_text``); version 1 (no ``root``;
``runs_total`` the run count) as ``fsm.canonical``. ``digest_hash`` = SHA-256 of that text
and ``signature`` = Ed25519 signature of the same bytes (base64). A digest file is the body
plus those two fields, named ``digest-NNNNNNNN.json``. ``key_id`` names the public key (the
first 16 hex digits of the SHA-256 of the hex of its raw bytes), so keys can be rotated: the
verifier is given every public key in use.
"""

from __future__ import annotations

import base64
import binascii
import json
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fsm.audit import Finding, RunSeal
from fsm.canonical import canonical_json, sha256_hex, utc_text
from fsm.errors import HistoryConflict, InvalidConfiguration
from fsm.keyfiles import key_id, load_public_key
from fsm.merkle import root, sorted_leaves

VERSION = 2
JCS_INTEGERS = 2**53  # RFC 8785 writes numbers as IEEE doubles: integers exact below this
SIGNED = ("digest_hash", "signature")
CHAINS = ("holds", "tombstones")  # side histories whose heads a digest signs besides halts


def file_name(n: int) -> str:
    return f"digest-{n:08d}.json"


def signed_text(body: Mapping[str, Any]) -> str:
    """The text a digest's hash and signature cover. From version 2 on it is RFC 8785 (JCS):
    ``fsm.canonical`` writes the same text for a digest body (ASCII keys; integers below
    2**53; strings, lists, objects, null), which is checked rather than assumed; a body
    outside that domain is refused (ValueError) instead of being signed or verified."""
    if body.get("version") != 1:
        _jcs_domain(body)
    return canonical_json(dict(body))


def _jcs_domain(value: Any) -> None:
    """Raise ValueError where ``fsm.canonical`` and RFC 8785 could write different text."""
    if type(value) is int:
        if abs(value) >= JCS_INTEGERS:
            raise ValueError("not RFC 8785 canonical JSON: an integer beyond 2**53")
    elif isinstance(value, list):
        for item in value:
            if type(item) is not str:  # strings are written alike (lone surrogates fail)
                _jcs_domain(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not (type(key) is str and key.isascii()):
                raise ValueError("not RFC 8785 canonical JSON: a non-ASCII key")
            _jcs_domain(item)
    elif not (value is None or type(value) in (str, bool)):
        raise ValueError(f"not RFC 8785 canonical JSON: a {type(value).__name__}")


def sign(
    key: Ed25519PrivateKey,
    n: int,
    created_at: datetime,
    previous: Mapping[str, Any] | None,
    runs: Iterable[tuple[str, int, str]],
    covered: Mapping[str, tuple[int, str]],
    halts: tuple[int, str] | None = None,
    chains: Mapping[str, tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """A signed digest document, chained to ``previous`` (the last digest document);
    ``covered`` holds the head of every run sealed so far, ``runs`` included; ``halts``, the
    head (seq, hash) of the halts history (``fsm.halts``), when it has rows; ``chains``, the
    heads of the other side histories with rows (``CHAINS``: holds, tombstones)."""
    body: dict[str, Any] = {
        "created_at": utc_text(created_at),
        "key_id": key_id(key.public_key()),
        "n": n,
        "previous": None if previous is None else {k: previous[k] for k in ("n", *SIGNED)},
        "root": root(sorted_leaves(covered)),
        "runs": sorted([run_id, int(seq), head] for run_id, seq, head in runs),
        "runs_total": len(covered),
        "version": VERSION,
    }
    if halts is not None:
        body["halts"] = [int(halts[0]), halts[1]]
    for name, (seq, head) in (chains or {}).items():
        body[name] = [int(seq), head]
    text = signed_text(body)
    signature = base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii")
    return body | {"digest_hash": sha256_hex(text), "signature": signature}


def write(document: Mapping[str, Any], folder: Path) -> Path:
    """Write a digest file; an existing file is never overwritten (HistoryConflict)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(int(document["n"]))
    try:
        out = path.open("x", encoding="utf-8")
    except FileExistsError:
        raise HistoryConflict(
            f"{path} exists but the database holds no digest {document['n']}: its digests were "
            "deleted or rolled back (`audit verify --digests` names them); refusing to seal"
        ) from None
    with out:
        out.write(canonical_json(dict(document)) + "\n")
    return path


@dataclass(frozen=True)
class Anchors:
    """Where the digest files are and the public keys that signed them."""

    folder: Path
    public_keys: tuple[Ed25519PublicKey, ...]


def load_anchors(folder: Path, key_files: Iterable[Path]) -> Anchors:
    """Anchors from the command line; a missing folder or key file is InvalidConfiguration."""
    if not folder.is_dir():
        raise InvalidConfiguration(f"no digest folder {folder}")
    return Anchors(folder, tuple(load_public_key(k) for k in key_files))


@dataclass
class DigestCheck:
    """What a folder of digest files proves: sealed run heads, and what is wrong with it."""

    sealed: dict[str, tuple[int, str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    count: int = 0
    runs_total: int = 0  # version 1: runs in the database; 2: runs its Merkle root covers
    covered_at: str | None = None  # when the newest version 2 digest proved which runs exist
    halts: tuple[int, str] | None = None  # the newest signed head of the halts history
    chains: dict[str, tuple[int, str]] = field(default_factory=dict)  # of CHAINS, the same
    sealed_by: dict[str, int] = field(default_factory=dict)  # run -> the digest of its head
    created: dict[int, str] = field(default_factory=dict)  # digest n -> its created_at
    newest: int | None = None  # the newest valid digest's n

    def seal_of(self, run_id: str, rows: int) -> RunSeal:
        """Which digest covers ``run_id`` (its ``rows`` ledger rows) and up to which seq."""
        n = self.sealed_by.get(run_id)
        newest_at = self.created.get(self.newest) if self.newest is not None else None
        if n is None:
            return RunSeal(None, None, None, newest_at, rows)
        return RunSeal(n, self.sealed[run_id][0], self.created[n], newest_at, rows)


def check_files(
    folder: Path, public_keys: Iterable[Ed25519PublicKey], stored: Mapping[int, str]
) -> DigestCheck:
    """Check every digest file's signature and chain, and against the digests ``stored`` in
    the database (n → digest_hash); collect the latest sealed head of each run.

    Only a digest whose signature verifies (and whose fields have their types) is used for
    anything else; a file that is not a regular file is never opened.
    """
    if not folder.is_dir():
        raise InvalidConfiguration(f"no digest folder {folder}")
    keys = {key_id(k): k for k in public_keys}
    check = DigestCheck()
    previous: dict[str, Any] | None = None
    files = sorted(folder.glob("digest-*.json"))
    if not files:
        check.findings.append(_missing(f"no digest files in {folder}", str(folder)))
    for path in files:
        document = _read(path, check)
        if document is None or not _check_one(path, document, previous, keys, stored, check):
            continue
        check.count += 1
        previous = document
        check.newest, check.created[document["n"]] = document["n"], document["created_at"]
        for run_id, seq, head in document["runs"]:
            check.sealed[run_id] = (seq, head)
            check.sealed_by[run_id] = document["n"]
        check.runs_total = document["runs_total"]
        if isinstance(document.get("halts"), list) and len(document["halts"]) == 2:
            check.halts = (int(document["halts"][0]), str(document["halts"][1]))
        for name in CHAINS:
            if isinstance(document.get(name), list) and len(document[name]) == 2:
                check.chains[name] = (int(document[name][0]), str(document[name][1]))
    if previous is not None and previous["version"] >= 2:
        _check_root(previous, check)
    last = int(previous["n"]) if previous else 0
    for n in sorted(k for k in stored if k > last):
        check.findings.append(_missing(f"digest {n} is in the database but has no valid file",
                                       file_name(n)))  # fmt: skip
    return check


def _check_root(newest: Mapping[str, Any], check: DigestCheck) -> None:
    """The newest digest's root must be the tree of the heads every digest sealed; only then
    does it prove which runs exist (``covered_at``)."""
    if (
        root(sorted_leaves(check.sealed)) == newest["root"]
        and len(check.sealed) == (newest["runs_total"])
    ):
        check.covered_at = newest["created_at"]
        return
    check.findings.append(_missing(
        f"digest {newest['n']}'s Merkle root does not cover the runs the digests before it "
        "sealed: one of them is missing or not valid", file_name(int(newest["n"])),
    ))  # fmt: skip


def _read(path: Path, check: DigestCheck) -> dict[str, Any] | None:
    def bad(problem: str) -> None:
        check.findings.append(Finding("bad_signature", None, problem, key=path.name))

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            bad("not a regular file (not opened)")
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        bad(f"unreadable: {exc}")
        return None
    if not isinstance(document, dict):
        bad(f"not a digest: a JSON {type(document).__name__}, not an object")
        return None
    return document


def well_formed(body: Mapping[str, Any]) -> bool:
    """The types a signed digest has: a valid signature over other types is a forged key's."""

    def number(value: Any) -> bool:
        return type(value) is int and value >= 0

    def text(value: Any) -> bool:
        return type(value) is str

    runs, previous, version = body.get("runs"), body.get("previous"), body.get("version")
    return (
        version in (1, VERSION)
        and (version == 1 or text(body.get("root")))
        and number(body.get("n"))
        and number(body.get("runs_total"))
        and text(body.get("created_at"))
        and isinstance(runs, list)
        and all(
            isinstance(r, list) and len(r) == 3 and text(r[0]) and number(r[1]) and text(r[2])
            for r in runs
        )
        and (previous is None or (isinstance(previous, dict) and number(previous.get("n"))))
    )


def _check_one(
    path: Path,
    document: dict[str, Any],
    previous: Mapping[str, Any] | None,
    keys: Mapping[str, Ed25519PublicKey],
    stored: Mapping[int, str],
    check: DigestCheck,
) -> bool:
    """Whether the digest's signature verifies; its chain and database findings are noted."""
    body = {k: v for k, v in document.items() if k not in SIGNED}
    try:
        text = signed_text(body)
    except (ValueError, RecursionError) as exc:  # e.g. a number too long to write back
        check.findings.append(Finding("bad_signature", None, f"unreadable: {exc}", key=path.name))
        return False
    key = keys.get(str(body.get("key_id")))
    if (
        key is None
        or sha256_hex(text) != document.get("digest_hash")
        or not signature_valid(key, text, str(document.get("signature")))
        or not well_formed(body)
    ):
        check.findings.append(Finding("bad_signature", None, "signature or hash does not verify "
                                      "with the given public key(s)", key=path.name))  # fmt: skip
        return False
    n = body["n"]
    expected = int(previous["n"]) + 1 if previous else 1
    linked = body["previous"] == (
        None if previous is None else {k: previous[k] for k in ("n", *SIGNED)}
    )
    if n != expected or not linked or path.name != file_name(n):
        check.findings.append(_missing(f"digest {expected} is missing or was replaced before "
                                       "this one", path.name))  # fmt: skip
    if stored.get(n) != document["digest_hash"]:
        check.findings.append(_missing(f"digest {n} is not in the database as signed",
                                       path.name))  # fmt: skip
    return True


def signature_verifies(key: Ed25519PublicKey, body: Mapping[str, Any], signature: str) -> bool:
    """Whether ``signature`` is ``key``'s over the digest ``body`` (fields but the signed)."""
    return signature_valid(key, signed_text(body), signature)


def file_hash(folder: Path, n: int) -> str | None:
    """The ``digest_hash`` in the regular file of digest ``n`` in ``folder``, if any."""
    path = folder / file_name(n)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return str(document.get("digest_hash")) if isinstance(document, dict) else None


def signature_valid(key: Ed25519PublicKey, text: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), text.encode("utf-8"))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _missing(problem: str, key: str) -> Finding:
    return Finding("digest_missing", None, problem, key=key)
