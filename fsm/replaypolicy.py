"""The proposed policy a replay decides with: the recorded policy history with the proposed
change in force as one more version, read as the engine reads a run's policy
(``fsm.limits.PolicyCache``: account values over the default policy's, tightened by this
process's settings).

A proposal is a list of scopes, as `tradefsm policy apply` reads a file: ``(None, values)``
changes the default policy, ``(account, values)`` one account's. Nothing is written: the rows
live in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fsm.kinds import Mode
from fsm.limits import Override, PolicyCache
from fsm.policy import DEFAULT, RiskPolicy, to_json, with_values
from fsm.policyhistory import PolicyChange, current_version, head, next_row
from fsm.replay import PolicyOf

Scope = tuple[str | None, dict[str, Any]]
ACTOR, REASON = "process:replay", "the change a replay proposes"


class ProposedBook:
    """A policy history in memory (the ``PolicyBook`` port): the recorded rows and the rows a
    replay appends. Rows never change; nothing reaches a database."""

    def __init__(self, rows: Sequence[PolicyChange]) -> None:
        self.rows = list(rows)

    def policy_history(self) -> list[PolicyChange]:
        return list(self.rows)

    def append_policy_change(self, row: PolicyChange) -> None:
        self.rows.append(row)

    def policy_head(self) -> tuple[int, str] | None:
        return head(self.rows)


def proposed_policy(recorded: Sequence[PolicyChange], scopes: Sequence[Scope],
                    overrides: Mapping[str, Override], at: datetime) -> PolicyOf:  # fmt: skip
    """The policy of an account and mode once ``scopes`` are in force on top of ``recorded``
    (each value checked first: InvalidInput, one line, for a bad key or value)."""
    book = ProposedBook(recorded)
    for account, values in scopes:
        with_values(DEFAULT, values)
        book.append_policy_change(next_row(book.rows, "applied", account, to_json(values), None,
                                           ACTOR, REASON, at))  # fmt: skip
    cache, version = PolicyCache(book, overrides), current_version(book.rows)

    def policy_of(account_id: str, mode: str) -> RiskPolicy:
        return cache.limits(account_id, version, Mode(mode)).values

    return policy_of
