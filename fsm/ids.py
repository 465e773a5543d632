"""Every id comes from an IdFactory, so runs can be replayed with a fixed one."""

from __future__ import annotations

import uuid
from typing import Protocol


class IdFactory(Protocol):
    def new_id(self, kind: str) -> str:
        """A new unique id; ``kind`` ("run", "correlation") is a readable prefix."""
        ...


class UuidFactory:
    def new_id(self, kind: str) -> str:
        return f"{kind}_{uuid.uuid4().hex}"


class SequentialIdFactory:
    """Deterministic ids for tests and golden runs: ``run_0001``, ``correlation_0002``..."""

    def __init__(self, seed: str = "") -> None:
        self._count = 0
        self._seed = seed

    def new_id(self, kind: str) -> str:
        self._count += 1
        return f"{kind}_{self._seed}{self._count:04d}"
