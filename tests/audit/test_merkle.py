"""The Merkle tree of digest version 2 hashes as RFC 9162 defines, and its proofs verify."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from fsm import merkle
from fsm.digests import sign, signed_text
from fsm.keyfiles import generate_keys, load_private_key


def _rfc_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 section 2.1.1, written as its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc_root(leaves[:k]) + _rfc_root(leaves[k:])).digest()


def _leaves(n: int) -> list[merkle.Leaf]:
    return [(f"run_{i:03d}", i + 1, f"{i:064x}") for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 31, 33, 64, 100])
def test_the_root_is_the_rfc_9162_tree_head(n: int) -> None:
    leaves = _leaves(n)
    expected = _rfc_root([merkle.leaf_bytes(*leaf) for leaf in leaves]).hex()
    assert merkle.root(leaves) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 8, 11, 17, 100])
def test_every_leaf_has_a_proof_and_no_other_leaf_fits_it(n: int) -> None:
    leaves = _leaves(n)
    tree, head = merkle.levels(leaves), merkle.root(leaves)
    for index, leaf in enumerate(leaves):
        path = merkle.inclusion_proof(tree, index)
        assert merkle.verify_inclusion(merkle.leaf_bytes(*leaf), index, n, path, head)
        forged = merkle.leaf_bytes(leaf[0], leaf[1] + 1, leaf[2])
        assert not merkle.verify_inclusion(forged, index, n, path, head)
        if n > 1:
            other = (index + 1) % n
            assert not merkle.verify_inclusion(merkle.leaf_bytes(*leaf), other, n, path, head)


def test_a_proof_with_a_bad_hash_or_index_does_not_verify() -> None:
    leaves = _leaves(5)
    head = merkle.root(leaves)
    path = merkle.inclusion_proof(merkle.levels(leaves), 2)
    leaf = merkle.leaf_bytes(*leaves[2])
    assert not merkle.verify_inclusion(leaf, 2, 5, ["zz", *path[1:]], head)
    assert not merkle.verify_inclusion(leaf, 5, 5, path, head)
    assert not merkle.verify_inclusion(leaf, 2, 5, [*path, path[0]], head)


@given(
    st.lists(
        st.tuples(st.text(), st.integers(0, 2**53 - 1), st.text(alphabet="0123456789abcdef")),
        max_size=5,
    ),
    st.integers(0, 2**53 - 1),
    st.sampled_from([1, 2]),
)
def test_the_signed_text_of_a_digest_body_is_rfc_8785(
    runs: list[merkle.Leaf], n: int, version: int
) -> None:
    body = {"created_at": "2026-01-02T09:35:00.000000Z", "key_id": "0123456789abcdef", "n": n,
            "previous": None, "runs": sorted(list(r) for r in runs), "runs_total": n,
            "version": version, "root": merkle.root(runs)}  # fmt: skip
    assert signed_text(body).encode("utf-8") == rfc8785.dumps(body)


def test_a_real_digest_is_signed_as_rfc_8785(tmp_path: Path) -> None:
    key = load_private_key(generate_keys(tmp_path / "keys")[0])
    heads = {f"run_{k}\u00e9\n": (k + 1, f"{k:064x}") for k in range(3)}
    document = sign(key, 1, datetime(2026, 1, 2, tzinfo=UTC), None, _leaves(2), heads)
    body = {k: v for k, v in document.items() if k not in ("digest_hash", "signature")}
    assert document["digest_hash"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()


@pytest.mark.parametrize(
    "odd", [{"n": 2**53}, {"n": 1.5}, {"é": 1}, {"runs": [["a", -(2**60), "b"]]}]
)
def test_a_body_where_the_forms_could_differ_is_refused(odd: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="RFC 8785"):
        signed_text({"version": 2, **odd})
