"""Who drove a run, read from its ledger rows: each row names the process that committed it
(``LedgerEntry.process``, a lease owner), so a row by another process than the row before it
is a handover — a resume after the previous process stopped (killed, crashed, or its lease
ran out), or the next step after a person decided on a run parked for them. The state the
previous process left the run in was an attempt that never ended: step attempts are stored
when they finish, so the killed one is read here."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from fsm.machines.specs import TRADING_SPECS

Row = Mapping[str, Any]  # a ledger row as `runs show` gives it


@dataclass(frozen=True)
class Handover:
    """Process ``process`` committed row ``seq`` after ``previous`` committed row ``left_at``,
    which left the run in ``state``; ``resumed`` unless the run was parked for a person."""

    seq: int
    process: str | None
    previous: str | None
    left_at: int
    state: str
    stopped_at: str  # when the previous process committed its last row
    resumed_at: str
    resumed: bool


def handovers(ledger: Sequence[Row], parked: Collection[str]) -> list[Handover]:
    found = []
    for before, row in pairwise(ledger):
        if row["process"] == before["process"] or before["process"] is None:
            continue  # the same process, or a row of a scheme that did not name it
        state = before["target"] or before["source"]
        found.append(Handover(row["seq"], row["process"], before["process"], before["seq"],
                              state, before["occurred_at"], row["occurred_at"],
                              state not in parked))  # fmt: skip
    return found


def open_attempts(
    taken: Sequence[Handover], run: Row, stuck: str | None, unfinished: Collection[str]
) -> list[dict[str, Any]]:
    """The attempts with no end: the step each resumed-from process was in when it stopped,
    and the step the run is in now while it is active in one of the ``unfinished`` states
    that step (in progress, or stuck)."""
    killed = [{"state": h.state, "started_at": h.stopped_at, "process": h.previous,
               "outcome": f"no end: its process stopped; resumed at seq {h.seq}",
               "seq": h.seq} for h in taken if h.resumed]  # fmt: skip
    state = run["state"]
    if run["status"] == "active" and state in unfinished:
        outcome = f"no end yet: {'stuck, ' + stuck if stuck else 'in progress'}"
        killed.append({"state": state, "started_at": run["updated_at"],
                       "process": run["lease_owner"], "outcome": outcome, "seq": None})  # fmt: skip
    return killed


def story(details: Mapping[str, Any], stuck: str | None) -> dict[str, Any]:
    """The run's handovers and its attempts with no end, for the run page."""
    parked, definition = TRADING_SPECS.parked_states, TRADING_SPECS.definition
    stepping = set(definition.states) - set(parked) - set(definition.final_states)
    taken = handovers(details["ledger"], parked)
    attempts = open_attempts(taken, details["run"], stuck, stepping)
    return {"handovers": taken, "by_seq": {h.seq: h for h in taken}, "open_attempts": attempts}
