"""The kill switch: halts of one account or of every account, as an append-only chained history.

Each row of ``halts`` is one ``halt`` or ``unhalt`` of a scope (``account_id``; None is every
account): who (``actor``), why (``reason``), when (``occurred_at``) and from which process.
The latest row of a scope says whether that scope is halted; an account is halted while its
own scope or the every-account scope is. Rows form a hash chain of their own::

    hash = sha256(prev_hash + "\\n" + canonical_json({"account_id", "action", "actor",
                                                       "occurred_at", "process", "reason",
                                                       "seq"}))

with the first row's ``prev_hash`` the ledger's ``GENESIS_HASH``; `audit verify` recomputes it
(``findings``). A run refused or stopped by a halt commits the head of the chain in the row
that fails it (``commits.halts``), so the digests that seal that run seal the halts it obeyed.

What a halt does to runs in each state is in docs/controls.md ("The kill switch").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from fsm.actors import actor_name, same_actor
from fsm.audit import Finding
from fsm.canonical import canonical_json, utc_text
from fsm.chains import chain_problems
from fsm.errors import InvalidInput, TradingHalted, UnhaltRefused
from fsm.ledger import GENESIS_HASH
from fsm.pluginrecords import Frozen
from fsm.policy import RiskPolicy

TABLE = "halts"
COMMIT_KEY = "halts"  # the key, in the row failing a run for a halt, of the chain's head
HASHED_FIELDS = ("seq", "action", "account_id", "actor", "reason", "process", "occurred_at")
EVERY_ACCOUNT = "every account"
Action = Literal["halt", "unhalt"]


class Halt(Frozen):
    """One row of the halts history."""

    seq: int
    action: str  # "halt" or "unhalt" (read as stored: verify names an edited one)
    account_id: str | None  # None: every account
    actor: str
    reason: str
    process: str
    occurred_at: datetime
    prev_hash: str
    hash: str

    @property
    def scope(self) -> str:
        return f"account {self.account_id}" if self.account_id else EVERY_ACCOUNT

    def said(self) -> str:
        """One line: which scope, by whom, when, why."""
        return (f"{self.scope} halted by {self.actor} at {utc_text(self.occurred_at)} "
                f"(halt {self.seq}): {self.reason}")  # fmt: skip


class HaltHistory(Protocol):
    """Where halts are kept (the run store is one). ``record_halt`` appends one row in one
    transaction, ConcurrentModification when another row took its ``seq`` first; rows are
    never changed or removed. ``halts`` is every row, by ``seq``."""

    def record_halt(self, halt: Halt) -> None: ...

    def halts(self) -> list[Halt]: ...


def entry_hash(prev_hash: str, halt: Halt | dict[str, object]) -> str:
    values = halt.model_dump() if isinstance(halt, Halt) else halt
    body = {name: values[name] for name in HASHED_FIELDS}
    at = body["occurred_at"]
    body["occurred_at"] = utc_text(at) if isinstance(at, datetime) else at
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def next_halt(rows: Sequence[Halt], action: Action, account_id: str | None, actor: str,
              reason: str, process: str, now: datetime) -> Halt:  # fmt: skip
    if not reason.strip():
        raise InvalidInput(f"{action} needs --reason: the history keeps why")
    seq, prev = (rows[-1].seq + 1, rows[-1].hash) if rows else (1, GENESIS_HASH)
    fields: dict[str, object] = {
        "seq": seq, "action": action, "account_id": account_id, "actor": actor_name(actor),
        "reason": reason.strip(), "process": process, "occurred_at": now}  # fmt: skip
    return Halt.model_validate(fields | {"prev_hash": prev, "hash": entry_hash(prev, fields)})


def latest(rows: Sequence[Halt], account_id: str | None) -> Halt | None:
    """The last row of exactly this scope."""
    return next((r for r in reversed(rows) if r.account_id == account_id), None)


def in_force(rows: Sequence[Halt], account_id: str | None = None) -> list[Halt]:
    """The halts that stop ``account_id`` (its own and the every-account one); with None,
    every halt in force of any scope."""
    scopes = {r.account_id for r in rows}
    if account_id is not None:
        scopes &= {None, account_id}
    found = [h for s in scopes if (h := latest(rows, s)) is not None and h.action == "halt"]
    return sorted(found, key=lambda h: h.seq)


def halted_error(halts: Sequence[Halt], doing: str, head: str, *, run_id: str | None = None,
                 state: str | None = None) -> TradingHalted:  # fmt: skip
    """The one-line refusal naming the halt(s) in force; ``head``: the chain's newest hash."""
    named = "; ".join(h.said() for h in halts)
    return TradingHalted(f"{doing} refused: {named}; `tradefsm unhalt` lifts it",
                         run_id=run_id, state=state, head=head)  # fmt: skip


def check(history: HaltHistory, account_id: str, doing: str, *, run_id: str | None = None,
          state: str | None = None) -> None:  # fmt: skip
    """Raise TradingHalted when ``account_id`` is halted."""
    rows = history.halts()
    halts = in_force(rows, account_id)
    if halts:
        raise halted_error(halts, doing, rows[-1].hash, run_id=run_id, state=state)


@dataclass(frozen=True)
class ThrottleLimits:
    """The kill switch's limits: how many failed executions or broker rejections within
    ``window_seconds`` halt an account (None: never), and whether whoever halted a scope
    may lift it themselves."""

    halt_after_failures: int | None
    window_seconds: float
    unhalt_needs_second_person: bool


def throttle_limits(policy: RiskPolicy) -> ThrottleLimits:
    """The one place the kill switch reads its limits: the risk policy in force (settings
    may only tighten it, ``fsm.limits``)."""
    return ThrottleLimits(policy.halt_after_failures, policy.halt_failure_window_seconds,
                          policy.unhalt_needs_second_person)  # fmt: skip


def halt(history: HaltHistory, account_id: str | None, actor: str, reason: str, process: str,
         now: datetime) -> tuple[Halt, bool]:  # fmt: skip
    """Halt a scope; (the halt in force, whether this call recorded it). A scope already
    halted keeps its halt: nothing is recorded twice."""
    rows = history.halts()
    current = latest(rows, account_id)
    if current is not None and current.action == "halt":
        return current, False
    entry = next_halt(rows, "halt", account_id, actor, reason, process, now)
    history.record_halt(entry)
    return entry, True


def unhalt(history: HaltHistory, account_id: str | None, actor: str, reason: str, process: str,
           now: datetime, limits: ThrottleLimits) -> Halt:  # fmt: skip
    """Lift the halt of a scope; UnhaltRefused (one line) when the person who halted it tries
    while ``unhalt_needs_second_person`` is on, InvalidInput when the scope is not halted."""
    rows = history.halts()
    current = latest(rows, account_id)
    scope = f"account {account_id}" if account_id else EVERY_ACCOUNT
    if current is None or current.action != "halt":
        wider = [h for h in in_force(rows, account_id) if h.account_id is None]
        hint = f"; {wider[0].said()}: `tradefsm unhalt` without --account" if wider else ""
        raise InvalidInput(f"{scope} is not halted{hint}")
    if limits.unhalt_needs_second_person and same_actor(current.actor, actor):
        raise UnhaltRefused(f"unhalt refused: {current.actor} halted {scope}; another person "
                            "lifts it (unhalt_needs_second_person)")  # fmt: skip
    entry = next_halt(rows, "unhalt", account_id, actor, reason, process, now)
    history.record_halt(entry)
    return entry


def findings(rows: Sequence[Halt]) -> list[Finding]:
    """What does not verify in the halts chain: an edited, inserted or deleted row."""
    return [Finding("halts_changed", None, problem, key=f"halt {row.seq}")
            for row, problem in chain_problems(rows, entry_hash, noun="halt")]  # fmt: skip


def since_last_unhalt(rows: Sequence[Halt], account_id: str, since: datetime) -> datetime:
    """``since``, or the last unhalt of the account (or of every account) if later: failures
    a person already looked at when they lifted a halt do not trip it again."""
    lifted = [r.occurred_at for r in rows if r.action == "unhalt"
              and r.account_id in (None, account_id)]  # fmt: skip
    return max([since, *lifted])


def window_start(now: datetime, limits: ThrottleLimits) -> datetime:
    return now - timedelta(seconds=limits.window_seconds)
