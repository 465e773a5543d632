"""Runs keep the machine definition they started under.

A run stores the hash of the definition (``fsm.definition``) it was started under. When the
code's definition differs (a deploy changed a state, an event or a guard), the run is
*stranded*: no command and no worker drives it under rules it was never started with, until
`tradefsm runs migrate` moves it to the code's definition (``fsm.migration``) with a ledgered
row naming both hashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from fsm.audit import Finding
from fsm.definition import MachineDefinition
from fsm.errors import RunNotResumable, RunStranded
from fsm.kinds import RunStatus
from fsm.machines.specs import TRADING_SPECS
from fsm.records import RunRecord
from fsm.requests import SPEC_SET_PARAM
from fsm.spec import SpecSet

UNFINISHED = (RunStatus.ACTIVE, RunStatus.QUEUED)
MIGRATED_EVENT = "migrated"  # the ledger row of a migration (``fsm.migration``)
FROM_KEY, TO_KEY = "definition_from", "definition_to"  # what it commits to
Row = Mapping[str, Any]


def is_stranded(run: RunRecord, definition: MachineDefinition) -> bool:
    """An unfinished run pinned to another definition than ``definition``."""
    return run.status in UNFINISHED and run.definition_hash != definition.definition_hash


def refuse_stranded(run: RunRecord, definition: MachineDefinition, doing: str) -> None:
    """RunStranded, naming both hashes and the commands that help, when ``run`` is pinned to
    another definition than ``definition``; nothing otherwise."""
    pinned, current = run.definition_hash, definition.definition_hash
    if pinned == current:
        return
    raise RunStranded(
        f"run {run.run_id} is stranded: it started under machine definition {pinned[:12]} and "
        f"this tradefsm runs {current[:12]}, so it will not {doing} it; `tradefsm definitions "
        f"diff {pinned[:12]} {current[:12]}` shows what changed and `tradefsm runs migrate "
        f"{run.run_id} --to {current[:12]} --actor NAME --reason TEXT` moves it when safe",
        pinned=pinned, current=current, run_id=run.run_id, state=run.state,
    )  # fmt: skip


def as_started(run_id: str, run: Row, rows: Sequence[Row]) -> tuple[Row, list[Finding]]:
    """The run row with the definition it started under, which its first ledger row commits
    to: the first migration row's old one when `runs migrate` moved it. The migration rows
    must explain the run's definition hash, each starting where the one before left it; the
    findings say where they do not."""
    findings: list[Finding] = []
    pins = [(int(r["seq"]), _pins(r)) for r in rows if r["event"] == MIGRATED_EVENT]
    if not pins:
        return run, findings
    for (_, before), (seq, after) in pairwise(pins):
        if after[0] != before[1]:
            findings.append(Finding("definition_changed", run_id, "this migration starts from "
                                    f"{after[0]}, not where the one before left the run "
                                    f"({before[1]})", seq=seq))  # fmt: skip
    seq, (_, pinned) = pins[-1]
    if run["definition_hash"] != pinned:
        findings.append(Finding("definition_changed", run_id, f"the run's definition "
                                f"{run['definition_hash']} is not {pinned}, the one its last "
                                "migration row moved it to", seq=seq))  # fmt: skip
    return {**run, "definition_hash": pins[0][1][0]}, findings


def _pins(row: Row) -> tuple[str | None, str | None]:
    """The (old, new) definition hashes a ``migrated`` row commits to."""
    value = row["commits"] or {}
    named = json.loads(value) if isinstance(value, str) else value
    return named.get(FROM_KEY), named.get(TO_KEY)


def movable(run: RunRecord, specs: SpecSet, doing: str, *, queued: bool = False) -> RunRecord:
    """``run``, if a command of ``specs``' spec set may move it (``doing`` it): an active run
    (or, with ``queued``, a queued one) that spec set started, not stranded from its
    definition; else RunNotResumable (RunStranded) saying why."""
    if run.status is not RunStatus.ACTIVE and not (queued and run.status is RunStatus.QUEUED):
        raise RunNotResumable(
            f"run {run.run_id} already ended {run.state}; there is nothing to {doing}"
            if run.state in specs.definition.final_states
            else f"run {run.run_id} is {run.status.value}: a worker has not started it yet",
            run_id=run.run_id, state=run.state,
        )  # fmt: skip
    started_by = run.params.get(SPEC_SET_PARAM, TRADING_SPECS.name)
    if started_by != specs.name:
        raise RunNotResumable(
            f"run {run.run_id} was started by the {started_by} spec set: {doing} it there "
            "(a legacy facade run: TradingOrchestrator.resume)",
            run_id=run.run_id, state=run.state,
        )  # fmt: skip
    refuse_stranded(run, specs.definition, doing)
    return run
