"""A run's retry lineage: the run, the runs it was retried from, and the people in them.

Four eyes reads it (``fsm.guards.four_eyes``): the approver must differ from the requester of
every run of the lineage and from anyone who rejected a plan in it; a retry of a rejected plan
waits for approval whatever its notional (``approval_needed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fsm.machines.names import TradingEvent as E
from fsm.ports import RunStore
from fsm.records import RunRecord

MAX_DEPTH = 1000  # retries of retries; a longer (or cyclic) chain is cut here
REJECTED_EVENT = E.REJECTED
# The guards that read the lineage; other transitions never load it.
LINEAGE_GUARDS = frozenset({"approval_needed", "approval_not_needed", "four_eyes"})


@dataclass(frozen=True)
class Lineage:
    run_ids: tuple[str, ...]  # the run first, then the run it was retried from, and so on
    requesters: tuple[str, ...]  # who started each of them (the actor of its first row)
    rejecters: tuple[str, ...] = ()  # who rejected a plan in any of them

    def inputs(self) -> dict[str, str]:
        """The names, as a guard decision records them (names never contain a comma)."""
        return {"runs": ",".join(self.run_ids), "requesters": _names(self.requesters),
                "rejecters": _names(self.rejecters)}  # fmt: skip


def _names(names: Iterable[str]) -> str:
    return ",".join(dict.fromkeys(names))  # each once, in lineage order


def load_lineage(store: RunStore, run: RunRecord) -> Lineage:
    """Walk ``parent_run_id`` from ``run`` and read who requested and who rejected."""
    run_ids: list[str] = []
    requesters: list[str] = []
    rejecters: list[str] = []
    current: RunRecord | None = run
    while current is not None and current.run_id not in run_ids and len(run_ids) < MAX_DEPTH:
        ledger = store.ledger(current.run_id)
        run_ids.append(current.run_id)
        requesters += [ledger[0].actor] if ledger else []
        rejecters += [e.actor for e in ledger if e.event == REJECTED_EVENT and e.accepted]
        parent = current.parent_run_id
        current = store.get_run(parent) if parent else None
    return Lineage(tuple(run_ids), tuple(requesters), tuple(rejecters))


def rejecters(store: RunStore, run_id: str) -> tuple[str, ...]:
    """Who rejected a plan in the lineage of ``run_id``."""
    return load_lineage(store, store.get_run(run_id)).rejecters


def lineage_for(store: RunStore, run: RunRecord, guards: Iterable[str]) -> Lineage | None:
    """The lineage when a transition's guards read it: for four eyes always, for the approval
    threshold only on a retry (a first run has no rejected plan before it)."""
    wanted = LINEAGE_GUARDS.intersection(guards)
    if "four_eyes" in wanted or (wanted and run.parent_run_id is not None):
        return load_lineage(store, run)
    return None
