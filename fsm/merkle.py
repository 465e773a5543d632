"""A Merkle tree over run heads, hashed as RFC 9162 (Certificate Transparency 2.0) does.

Leaves are the canonical JSON text (UTF-8) of ``[run_id, seq, head_hash]``, sorted by run id;
leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right); a tree of n > 1
leaves splits at k, the largest power of two smaller than n (RFC 9162, section 2.1.1); the
empty tree's hash is SHA-256 of nothing. Built bottom up: a level's unpaired last node is
carried up unchanged, which gives the same root as the RFC's recursive split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from fsm.canonical import json_text

Leaf = tuple[str, int, str]


def leaf_bytes(run_id: str, seq: int, head: str) -> bytes:
    """``canonical_json([run_id, seq, head])``, written directly (it is hashed per run)."""
    return f"[{json_text(run_id)},{int(seq)},{json_text(head)}]".encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def sorted_leaves(heads: Mapping[str, tuple[int, str]]) -> list[Leaf]:
    return [(run_id, seq, head) for run_id, (seq, head) in sorted(heads.items())]


def levels(leaves: Iterable[Leaf]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last (one level of one hash)."""
    level = [leaf_hash(leaf_bytes(*leaf)) for leaf in leaves]
    out = [level]
    while len(level) > 1:
        pairs = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
        out.append(level)
    return out


def root(leaves: Iterable[Leaf]) -> str:
    """The tree head (hex); SHA-256 of nothing for no leaves."""
    top = levels(leaves)[-1]
    return top[0].hex() if top else hashlib.sha256(b"").hexdigest()


def inclusion_proof(tree: Sequence[Sequence[bytes]], index: int) -> list[str]:
    """The audit path (hex, leaf side first) of leaf ``index`` in a tree from ``levels``."""
    path = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling].hex())
        index //= 2
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[str], head: str) -> bool:
    """RFC 9162, section 2.1.3.2: whether ``path`` proves ``leaf`` at ``index`` of ``size``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    try:
        steps = [bytes.fromhex(p) for p in path]
    except ValueError:
        return False
    for p in steps:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == head
