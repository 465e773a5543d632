"""Ed25519 key pairs on disk, as ``tradefsm audit keygen`` writes them: a new pair in a folder
(the private key readable by its owner only, neither file ever overwritten), either half read
back, and a public key's id (``key_id``), which digests and approvals name it by.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fsm.canonical import sha256_hex
from fsm.errors import InvalidConfiguration

PRIVATE_KEY_FILE = "tradefsm-audit.key"
PUBLIC_KEY_FILE = "tradefsm-audit.pub"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw.hex())[:16]


def generate_keys(folder: Path) -> tuple[Path, Path]:
    """Write a new key pair into ``folder`` (created if missing); the private key file is
    readable by its owner only (0600). Neither file of an existing pair is overwritten."""
    private, public = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    _key_folder(folder)
    for path in (private, public):
        if path.exists():
            raise InvalidConfiguration(f"{path} exists: refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    _write_new(private, pem, 0o600)
    try:
        _write_new(public, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
        ), 0o644)  # fmt: skip
    except InvalidConfiguration:
        private.unlink()  # no half pair: a private key without its public key is useless
        raise
    return private, public


def _key_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InvalidConfiguration(f"{folder} is not a folder: name a folder for the key pair")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidConfiguration(
            f"cannot create the key folder {folder}: {exc.strerror}"
        ) from exc


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Write a file that must not exist yet (O_EXCL: no race overwrites a key)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise InvalidConfiguration(f"{path} exists: refusing to overwrite a key") from None
    except OSError as exc:
        raise InvalidConfiguration(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(content)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = _load(path, serialization.load_pem_private_key, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidConfiguration(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = _load(path, serialization.load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidConfiguration(f"{path} is not an Ed25519 public key")
    return key


def _load(path: Path, loader: Any, **kw: Any) -> Any:
    try:
        return loader(path.read_bytes(), **kw)
    except OSError as exc:
        raise InvalidConfiguration(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise InvalidConfiguration(f"{path} is not a PEM key: {exc}") from None
