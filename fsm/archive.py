"""The archive folder of retention: one evidence bundle (``fsm.bundle``) per archived run, in
a folder named by the run id, placed durably and checked before the run's rows are removed.

A bundle's hash (``bundle_hash``, kept in its tombstone) is the SHA-256 of the canonical JSON
object mapping each file name of its folder to the SHA-256 of the file's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fsm import bundle
from fsm.audit import Finding
from fsm.canonical import canonical_json, sha256_hex
from fsm.errors import HistoryConflict, InvalidConfiguration
from fsm.tombstones import Tombstone

PARTIAL = ".partial-"  # a bundle being written: never a run's folder


def bundle_hash(folder: Path) -> str:
    """The hash of the bundle in ``folder`` (its files' names and bytes)."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.iterdir()) if p.is_file()}  # fmt: skip
    return sha256_hex(canonical_json(files))


def partial_folder(root: Path, run_id: str) -> Path:
    """A fresh folder to write ``run_id``'s bundle into (what a killed process left is gone)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidConfiguration(f"cannot create the archive folder {root}: {exc}") from exc
    partial = root / f"{PARTIAL}{run_id}"
    shutil.rmtree(partial, ignore_errors=True)
    return partial


def place(partial: Path, root: Path, run_id: str, head: tuple[int, str],
          keys: Sequence[Ed25519PublicKey]) -> str:  # fmt: skip
    """Make the bundle written in ``partial`` the run's folder in ``root``, durably (files
    and folders fsynced), verify it there, and return its hash. A folder already there is
    kept when it is the same bundle or a bundle that proves the same head (a rerun after a
    crash); another one is refused (HistoryConflict): it is never overwritten."""
    for path in (*partial.iterdir(), partial):
        _fsync(path)
    final = root / run_id
    if final.exists():
        if bundle_hash(final) != bundle_hash(partial) and _problems(final, head, keys):
            raise HistoryConflict(
                f"{final} exists and is another bundle than run {run_id}'s: "
                "refusing to overwrite it; move it away and apply again"
            )
        shutil.rmtree(partial)
    else:
        partial.rename(final)
        _fsync(root)
    problems = _problems(final, head, keys)
    if problems:
        raise HistoryConflict(f"the bundle written to {final} does not verify: {problems[0]}; "
                              f"run {run_id} was not removed")  # fmt: skip
    return bundle_hash(final)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _problems(folder: Path, head: tuple[int, str], keys: Sequence[Ed25519PublicKey]) -> list[str]:
    """Why the bundle in ``folder`` is not the run's at ``head`` (none: it is)."""
    try:
        found = bundle.verify(folder, keys)
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (InvalidConfiguration, OSError, ValueError) as exc:
        return [str(exc)]
    problems = [f"{f.kind}: {f.problem}" for f in found]
    if (run.get("version"), run.get("head_hash")) != head:
        problems.append(f"its run is not at head {head[0]} {head[1]}")
    return problems


def findings(root: Path, rows: Iterable[Tombstone],
             keys: Sequence[Ed25519PublicKey]) -> list[Finding]:  # fmt: skip
    """Each archived run's bundle in ``root``: present, of the hash its tombstone names and,
    with public keys, verifying (chain, Merkle proof, signature) at the tombstone's head."""
    out = []
    for row in rows:
        folder, key = root / row.run_id, f"bundle {row.run_id}"
        if not (folder / bundle.MANIFEST).is_file():
            out.append(Finding("archive_missing", row.run_id, f"no bundle in {folder}", key=key))
        elif bundle_hash(folder) != row.bundle_hash:
            out.append(
                Finding(
                    "archive_changed",
                    row.run_id,
                    f"the bundle in {folder} does not hash to {row.bundle_hash} (its tombstone's)",
                    key=key,
                )
            )
        elif keys:
            out += [
                Finding("archive_changed", row.run_id, problem, key=key)
                for problem in _problems(folder, (row.head_seq, row.head_hash), keys)
            ]
    return out  # fmt: skip
