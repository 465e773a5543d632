"""Tombstones: what is left of a run that retention archived, and when a run may be archived.

A tombstone names the run, the head it had (``head_seq``, ``head_hash``: the head the signed
digests sealed), the hash of the evidence bundle written for it (``fsm.archive``), who, when
and why. The rows form a hash chain like the halts history::

    hash = sha256(prev_hash + "\\n" + canonical_json({"actor", "archived_at", "bundle_hash",
                                                       "head_hash", "head_seq", "process",
                                                       "reason", "run_id", "seq"}))

`audit verify` recomputes it, and the next signed digest signs its head (``tombstones``), so
an archived run is reported as archived with its bundle, never as ``run_deleted``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from fsm.actors import actor_name
from fsm.audit import Finding
from fsm.canonical import canonical_json, utc_text
from fsm.chains import chain_problems
from fsm.errors import InvalidInput
from fsm.kinds import RunStatus
from fsm.ledger import GENESIS_HASH
from fsm.pluginrecords import Frozen

HASHED_FIELDS = ("seq", "run_id", "head_seq", "head_hash", "bundle_hash", "actor", "reason",
                 "process", "archived_at")  # fmt: skip
# Only finished runs are ever archived.
FINAL_STATUSES = (RunStatus.DONE.value, RunStatus.FAILED.value)
_AGE = re.compile(r"([1-9][0-9]{0,4})([yd])")
DAYS_PER_YEAR = 366  # a year of age is never shorter than a calendar year (leap years)


class Tombstone(Frozen):
    """One row of the tombstones chain: one archived run."""

    seq: int
    run_id: str
    head_seq: int
    head_hash: str
    bundle_hash: str
    actor: str
    reason: str
    process: str
    archived_at: datetime
    prev_hash: str
    hash: str

    def said(self) -> str:
        return (f"run {self.run_id} archived, bundle {self.bundle_hash}, by {self.actor} at "
                f"{utc_text(self.archived_at)}: {self.reason}")  # fmt: skip


def entry_hash(prev_hash: str, row: Tombstone) -> str:
    body = row.model_dump(include=set(HASHED_FIELDS))
    body["archived_at"] = utc_text(row.archived_at)
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def next_tombstone(last: Tombstone | None, run_id: str, head: tuple[int, str], bundle_hash: str,
                   actor: str, reason: str, process: str, now: datetime) -> Tombstone:  # fmt: skip
    """The tombstone that follows ``last`` (None: the first)."""
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS_HASH)
    fields = {"seq": seq, "run_id": run_id, "head_seq": head[0], "head_hash": head[1],
              "bundle_hash": bundle_hash, "actor": actor_name(actor), "reason": reason.strip(),
              "process": process, "archived_at": now, "prev_hash": prev, "hash": ""}  # fmt: skip
    unhashed = Tombstone.model_validate(fields)
    return unhashed.model_copy(update={"hash": entry_hash(prev, unhashed)})


def findings(rows: Sequence[Tombstone]) -> list[Finding]:
    """What does not verify in the tombstones chain: an edited, inserted or deleted row."""
    return [Finding("tombstone_changed", row.run_id, problem, key=f"tombstone {row.seq}")
            for row, problem in chain_problems(rows, entry_hash, noun="tombstone")]  # fmt: skip


def sealed_findings(rows: Sequence[Tombstone], sealed: dict[str, tuple[int, str]]) -> list[Finding]:
    """A tombstone must name the head the signed digests sealed for its run."""
    return [
        Finding("tombstone_changed", row.run_id, f"the tombstone names head {row.head_seq} "
                f"{row.head_hash[:12]}; the signed digests sealed "
                f"{sealed[row.run_id][0]} {sealed[row.run_id][1][:12]}", key=f"tombstone {row.seq}")
        for row in rows
        if row.run_id in sealed and sealed[row.run_id] != (row.head_seq, row.head_hash)
    ]  # fmt: skip


def parse_age(text: str) -> timedelta:
    """``6y`` or ``90d``: an age in years (366 days each) or days; InvalidInput otherwise."""
    found = _AGE.fullmatch(text.strip())
    if found is None:
        raise InvalidInput(f"--older-than {text!r} is not an age: write a number of years or "
                           "days, e.g. 6y or 90d")  # fmt: skip
    number, unit = int(found.group(1)), found.group(2)
    return timedelta(days=number * (DAYS_PER_YEAR if unit == "y" else 1))
