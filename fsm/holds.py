"""Legal holds: a run, or every run of an account, that retention must never archive.

Each row of ``holds`` is one ``hold`` or ``release`` of a scope (``run_id`` or
``account_id``, exactly one set): who (``actor``), why (``reason``), when and from which
process. The latest row of a scope says whether it is held. The rows form a hash chain::

    hash = sha256(prev_hash + "\\n" + canonical_json({"account_id", "action", "actor",
                                                       "occurred_at", "process", "reason",
                                                       "run_id", "seq"}))

with the first row's ``prev_hash`` the ledger's ``GENESIS_HASH``; `audit verify` recomputes it
and the next signed digest signs its head (``holds``). docs/change-management.md describes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from fsm.actors import actor_name
from fsm.audit import Finding
from fsm.canonical import canonical_json, utc_text
from fsm.chains import chain_problems
from fsm.errors import InvalidInput
from fsm.ledger import GENESIS_HASH
from fsm.pluginrecords import Frozen

HASHED_FIELDS = ("seq", "action", "run_id", "account_id", "actor", "reason", "process",
                 "occurred_at")  # fmt: skip
Action = Literal["hold", "release"]


class Hold(Frozen):
    """One row of the holds history."""

    seq: int
    action: str  # "hold" or "release" (read as stored: verify names an edited one)
    run_id: str | None
    account_id: str | None
    actor: str
    reason: str
    process: str
    occurred_at: datetime
    prev_hash: str
    hash: str

    @property
    def scope(self) -> str:
        return f"run {self.run_id}" if self.run_id else f"account {self.account_id}"

    def said(self) -> str:
        """One line: which scope, what, by whom, when, why."""
        done = "held" if self.action == "hold" else "released"
        return (f"{self.scope} {done} by {self.actor} at {utc_text(self.occurred_at)} "
                f"(hold {self.seq}): {self.reason}")  # fmt: skip

    def as_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")


class HoldHistory(Protocol):
    """Where holds are kept. ``record_hold`` appends one row in one transaction,
    ConcurrentModification when another row took its ``seq`` first; rows are never changed
    or removed. ``holds`` is every row, by ``seq``."""

    def record_hold(self, hold: Hold) -> None: ...

    def holds(self) -> list[Hold]: ...


def entry_hash(prev_hash: str, hold: Hold) -> str:
    body = hold.model_dump(include=set(HASHED_FIELDS))
    body["occurred_at"] = utc_text(hold.occurred_at)
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def in_force(rows: Sequence[Hold]) -> tuple[set[str], set[str]]:
    """The held run ids and the held account ids: scopes whose latest row is a hold."""
    latest: dict[tuple[str | None, str | None], Hold] = {}
    for row in rows:
        latest[row.run_id, row.account_id] = row
    held = [row for row in latest.values() if row.action == "hold"]
    runs = {r.run_id for r in held if r.run_id}
    return runs, {r.account_id for r in held if r.account_id}


def change(history: HoldHistory, action: Action, run_id: str | None, account_id: str | None,
           actor: str, reason: str, process: str, now: datetime) -> Hold:  # fmt: skip
    """Hold or release one scope; InvalidInput (one line) when the scope is not exactly one
    of a run and an account, the reason is empty, or the change would change nothing."""
    if (run_id is None) == (account_id is None):
        raise InvalidInput("name exactly one of --run and --account")
    if not reason.strip():
        raise InvalidInput(f"hold {'add' if action == 'hold' else 'remove'} needs --reason: "
                           "the history keeps why")  # fmt: skip
    rows = history.holds()
    runs, accounts = in_force(rows)
    held = run_id in runs if run_id is not None else account_id in accounts
    scope = f"run {run_id}" if run_id else f"account {account_id}"
    if held == (action == "hold"):
        raise InvalidInput(f"{scope} is {'already' if held else 'not'} held")
    seq, prev = (rows[-1].seq + 1, rows[-1].hash) if rows else (1, GENESIS_HASH)
    fields = {"seq": seq, "action": action, "run_id": run_id, "account_id": account_id,
              "actor": actor_name(actor), "reason": reason.strip(), "process": process,
              "occurred_at": now, "prev_hash": prev, "hash": ""}  # fmt: skip
    unhashed = Hold.model_validate(fields)
    entry = unhashed.model_copy(update={"hash": entry_hash(prev, unhashed)})
    history.record_hold(entry)
    return entry


def findings(rows: Sequence[Hold]) -> list[Finding]:
    """What does not verify in the holds chain: an edited, inserted or deleted row."""
    return [Finding("holds_changed", None, problem, key=f"hold {row.seq}")
            for row, problem in chain_problems(rows, entry_hash, noun="hold")]  # fmt: skip
