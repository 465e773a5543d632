"""Numbered hash chains of side histories (approver keys, halts, the risk policy): rows
numbered from 1, each with the hash of the row before it (the first: the ledger's
``GENESIS_HASH``) and its own hash over its content."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

from fsm.ledger import GENESIS_HASH


class ChainRow(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


Row = TypeVar("Row", bound=ChainRow)


def chain_problems(
    rows: Sequence[Row], rehash: Callable[[str, Row], str], *, noun: str = "row"
) -> Iterator[tuple[Row, str]]:
    """Each row that does not verify, with why: one missing before it (deleted), a row that
    does not follow the one before (deleted or replaced), or content that does not hash to
    its stored hash (edited). ``rehash(prev_hash, row)`` recomputes a row's hash."""
    prev, expected = GENESIS_HASH, 1
    for row in rows:
        problem = None
        if row.seq != expected:
            problem = f"{noun} {expected} is missing (deleted) before {noun} {row.seq}"
        elif row.prev_hash != prev:
            problem = "it does not follow the row before it (a row was deleted or replaced)"
        elif row.hash != rehash(prev, row):
            problem = "its content does not hash to its stored hash (edited)"
        if problem:
            yield row, problem
        prev, expected = row.hash, row.seq + 1
