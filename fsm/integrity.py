"""Verification of one run's stored records against its hash chain and commitments.

Works on rows as the run database holds them (JSON documents may be canonical text, times
canonical text), so the same checks serve the SQL verifier and the in-memory store's tests.
After a missing, inserted or reordered ledger row, later rows of that run are no longer
judged one by one (their links are broken by the first change); every other check still runs,
so a run can have several findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsm.audit import Finding, FindingKind
from fsm.cancels import COMMIT_KEY, request_hash
from fsm.commitments import (
    checkpoint_digest,
    commits,
    committed_deadline,
    committing,
    identity_digest,
    outcome_digest,
    text_of,
)
from fsm.intentchecks import IntentHistory, intent_findings
from fsm.kinds import RunStatus
from fsm.ledger import ENDING_COMMITS_INTENTS, GENESIS_HASH, LEGACY_SCHEME, SCHEME, entry_hash
from fsm.machines.names import TradingState as S
from fsm.pinning import as_started
from fsm.ports import RunStore

Row = Mapping[str, Any]
FINAL_STATUS: dict[str, str] = {S.DONE: RunStatus.DONE, S.FAILED: RunStatus.FAILED}


@dataclass
class RunRecords:
    """What the run database holds for one run; ``run`` is None when its row is gone."""

    run_id: str
    run: Row | None
    ledger: Sequence[Row]
    checkpoints: Sequence[Row] = ()
    intents: Sequence[IntentHistory] = ()
    cancel_requests: Sequence[Row] = ()


def records_of(store: RunStore, run_id: str) -> RunRecords:
    """A run's records as any RunStore returns them, ready for ``check_run``."""
    events: dict[str, list[Row]] = {}
    for event in store.intent_events(run_id):
        events.setdefault(event.client_order_id, []).append(event.model_dump())
    intents = [
        IntentHistory(
            stored.as_json() | stored.model_dump() | {"position": n},
            events.get(stored.intent.client_order_id, []),
        )
        for n, stored in enumerate(store.intents(run_id))
    ]
    return RunRecords(
        run_id,
        store.get_run(run_id).model_dump(),
        [e.model_dump() for e in store.ledger(run_id)],
        [c.model_dump() for c in store.checkpoints(run_id)],
        intents,
        [r.model_dump() for r in store.cancel_requests(run_id)],
    )


@dataclass
class SchemeMarks:
    """When each scheme was first written, and which runs started in an older one: such a run
    that started after a newer scheme was in use is ``downgraded``. Filled while runs are
    checked, judged once every run was seen."""

    epochs: dict[int, str] = field(default_factory=dict)  # scheme -> first time it (or newer)
    older: list[tuple[str, int, str]] = field(default_factory=list)  # run, scheme, started

    def note(self, run_id: str, steps: Sequence[tuple[int, str]]) -> None:
        for scheme, at in steps:
            for s in range(LEGACY_SCHEME + 1, scheme + 1):
                if at < self.epochs.get(s, "~"):
                    self.epochs[s] = at
        first, started = steps[0]
        if first < SCHEME:
            self.older.append((run_id, first, started))

    def merge(self, other: SchemeMarks) -> None:
        for s, at in other.epochs.items():
            self.epochs[s] = min(at, self.epochs.get(s, at))
        self.older += other.older

    def findings(self) -> list[Finding]:
        out = []
        for run_id, first, started in self.older:
            replaced = [s for s, at in self.epochs.items() if s > first and at < started]
            if replaced:
                out.append(Finding("downgraded", run_id, f"the run started after scheme "
                                   f"{max(replaced)} rows were written, yet its first row is "
                                   f"scheme {first}", seq=1))  # fmt: skip
        return out


def check_run(
    records: RunRecords, sealed: tuple[int, str] | None = None, marks: SchemeMarks | None = None
) -> tuple[list[Finding], bool]:
    """Every finding for one run, and whether it is a legacy (scheme 1) run.

    ``sealed`` is the run's (seq, head hash) from a signed digest; ``marks`` collects when
    each scheme was first used (``SchemeMarks.findings`` once every run was checked).
    """
    run_id, rows, run = records.run_id, records.ledger, records.run
    if run is None:
        return [Finding("run_deleted", run_id, "ledger rows exist but the run row is gone")], False
    if not rows:
        return [Finding("deleted", run_id, "the run has no ledger rows", seq=1)], False
    legacy = is_legacy(rows)
    downgrades, steps = scheme_findings(run_id, rows)
    if marks is not None:
        marks.note(run_id, steps)
    findings = chain_findings(run_id, rows) + downgrades
    findings += request_findings(run_id, records.cancel_requests, rows)
    findings += _run_row_findings(run_id, run, rows, legacy)
    if sealed is not None:
        findings += _sealed_findings(run_id, rows, sealed)
    if not legacy:
        findings += _moment_findings(run_id, run, rows) + _identity_findings(run_id, run, rows)
        findings += _checkpoint_findings(run_id, rows, records.checkpoints)
        findings += intent_findings(run_id, rows, records.intents)
    return findings, legacy


def is_legacy(rows: Sequence[Row]) -> bool:
    """A run's scheme is fixed by its first row: later legacy rows do not make it legacy."""
    return int(rows[0]["scheme"]) == LEGACY_SCHEME


def scheme_findings(
    run_id: str, rows: Sequence[Row]
) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Rows that go back to an older scheme (or one this tradefsm does not know), and the
    run's scheme steps: (scheme, time) of its first row and of each row that raises it."""
    findings, newest = [], int(rows[0]["scheme"])
    steps = [(newest, text_of(rows[0]["occurred_at"]) or "")]
    for row in rows:
        scheme = int(row["scheme"])
        if scheme < newest or not LEGACY_SCHEME <= scheme <= SCHEME:
            findings.append(Finding("downgraded", run_id, f"a scheme {scheme} row after a "
                                    f"scheme {newest} row (this tradefsm writes {SCHEME})",
                                    seq=int(row["seq"])))  # fmt: skip
        elif scheme > newest:
            steps.append((scheme, text_of(row["occurred_at"]) or ""))
            newest = scheme
    return findings, steps


def chain_findings(run_id: str, rows: Sequence[Row]) -> list[Finding]:
    """Edited rows, and the first missing, inserted or reordered one, in stored order."""
    findings: list[Finding] = []
    prev, expected = GENESIS_HASH, 1
    for i, row in enumerate(rows):
        seq = int(row["seq"])
        if seq != expected or row["prev_hash"] != prev:
            findings.append(_structural(run_id, rows, i, prev, expected))
            return findings
        if entry_hash(prev, row) != row["hash"]:
            findings.append(
                Finding("edited", run_id, "row content does not match its hash", seq=seq)
            )
        prev, expected = row["hash"], expected + 1
    return findings


def _structural(run_id: str, rows: Sequence[Row], i: int, prev: str, expected: int) -> Finding:
    row, seq = rows[i], int(rows[i]["seq"])
    if seq > expected:
        return Finding("deleted", run_id, f"row {expected} is missing", seq=expected)
    position = {r["hash"]: j for j, r in enumerate(rows)}.get(row["prev_hash"])
    if position is not None and position > i:
        return Finding("reordered", run_id, "rows are out of order here", seq=seq)
    if i + 1 < len(rows) and rows[i + 1]["prev_hash"] == prev:
        return Finding("inserted", run_id, "a row was inserted here", seq=seq)
    if entry_hash(row["prev_hash"], row) == row["hash"]:
        return Finding(
            "edited", run_id, "row changed and its hash recomputed: the next row no longer "
            "links to it", seq=seq - 1,
        )  # fmt: skip
    return Finding("deleted", run_id, "a row before this one is missing (renumbered)", seq=seq)


def _run_row_findings(run_id: str, run: Row, rows: Sequence[Row], legacy: bool) -> list[Finding]:
    last = rows[-1]
    last_seq, version = int(last["seq"]), int(run["version"])
    head = run["head_hash"]
    earlier = None
    if head != last["hash"]:
        earlier = next((k for k, r in enumerate(rows) if r["hash"] == head), None)
    if earlier is not None:
        appended = int(rows[earlier + 1]["seq"])
        return [Finding("inserted", run_id, "rows were appended after the run's head",
                        seq=appended)]  # fmt: skip
    if version > last_seq:
        return [Finding("truncated", run_id, f"the run row is at version {version} but its "
                        f"ledger ends at seq {last_seq}", seq=last_seq + 1)]  # fmt: skip
    if run["head_hash"] != last["hash"]:
        return [Finding("run_changed", run_id, "the run's head hash matches no ledger row")]
    state = last["target"] if last["accepted"] else last["source"]
    status = FINAL_STATUS.get(state)
    if (
        version != last_seq
        or run["state"] != state
        or (run["status"] != status if status else run["status"] in FINAL_STATUS.values())
    ):
        return [Finding("run_changed", run_id, f"the run row says {run['state']}/"
                        f"{run['status']} at version {version}; its ledger ends in {state} at "
                        f"seq {last_seq}")]  # fmt: skip
    if status and not legacy:
        return _outcome_findings(run_id, run, last)
    return []


def _moment_findings(run_id: str, run: Row, rows: Sequence[Row]) -> list[Finding]:
    """The run row's time of change is its last row's; its deadline the one last committed
    (a run created before deadlines were committed commits none: not checked). Legacy runs
    are not checked: releases before commitments may have kept other times."""
    findings = []
    if "updated_at" in run and text_of(run["updated_at"]) != text_of(rows[-1]["occurred_at"]):
        findings.append(Finding("run_changed", run_id, "the run's updated_at is not the time of "
                                "its last ledger row"))  # fmt: skip
    committed = [(int(r["seq"]), d) for r in rows if (d := committed_deadline(r["guards"]))
                 is not None]  # fmt: skip
    if committed and "deadline_at" in run:
        seq, deadline = committed[-1]
        stored = text_of(run["deadline_at"]) or ""
        claimed = seq == 1 and deadline == "" and len(rows) == 1  # queued, claimed, not moved
        if stored != deadline and not claimed:
            findings.append(Finding("run_changed", run_id, f"the run's deadline {stored or 'none'} "
                                    f"is not the one row {seq} committed ({deadline or 'none'})",
                                    seq=seq))  # fmt: skip
    return findings


def _outcome_findings(run_id: str, run: Row, last: Row) -> list[Finding]:
    seq, findings = int(last["seq"]), []
    if not commits(last, "outcome", outcome_digest(run["result"], run["failure"])):
        findings.append(Finding("outcome_changed", run_id, "the run's result or failure differs "
                                "from what its last transition committed", seq=seq))  # fmt: skip
    if any(run[name] == "null" for name in ("result", "failure")):
        findings.append(Finding("outcome_changed", run_id, "the run's result or failure is "
                                "a JSON null: tradefsm stores none as SQL NULL",
                                seq=seq))  # fmt: skip
    if int(last["scheme"]) >= ENDING_COMMITS_INTENTS and not commits(last, "intents"):
        findings.append(Finding("intent_changed", run_id, "the row ending the run commits to "
                                "no set of orders", seq=seq, key="intents"))  # fmt: skip
    return findings


def _sealed_findings(run_id: str, rows: Sequence[Row], sealed: tuple[int, str]) -> list[Finding]:
    seq, head = sealed
    at = next((r for r in rows if int(r["seq"]) == seq), None)
    if at is None:
        return [Finding("truncated", run_id, f"a signed digest sealed this run at seq {seq}; "
                        "that row is gone", seq=seq)]  # fmt: skip
    if at["hash"] != head:
        return [Finding("rewritten", run_id, "the row's hash differs from the one a signed "
                        "digest sealed: the chain was recomputed", seq=seq)]  # fmt: skip
    return []


def _identity_findings(run_id: str, run: Row, rows: Sequence[Row]) -> list[Finding]:
    started, findings = as_started(run_id, run, rows)  # a migrated run: its first definition
    if not commits(rows[0], "identity", identity_digest(started)):
        findings.append(Finding("identity_changed", run_id, "the run's identity (account, mode, "
                                "as_of, definition, params, ...) differs from what its first "
                                "row committed (a definition changes only by a migration "
                                "row)", seq=1))  # fmt: skip
    return findings


def _checkpoint_findings(run_id: str, rows: Sequence[Row], stored: Sequence[Row]) -> list[Finding]:
    by_seq = {int(r["seq"]): r for r in rows}
    findings = []
    for cp in stored:
        seq = int(cp["seq"])
        digest = checkpoint_digest(cp["state"], cp["schema_version"], cp["output"])
        row = by_seq.get(seq)
        if row is None or not commits(row, "checkpoint", digest):
            findings.append(Finding("checkpoint_changed", run_id, f"the {cp['state']} checkpoint "
                                    "differs from what its transition committed", seq=seq,
                                    key=f"checkpoint {seq}"))  # fmt: skip
        elif cp.get("recorded_at", row["occurred_at"]) != row["occurred_at"]:
            findings.append(Finding("checkpoint_changed", run_id, f"the {cp['state']} checkpoint "
                                    "is stored at a time other than its transition's", seq=seq,
                                    key=f"checkpoint {seq}"))  # fmt: skip
    if len(stored) == len(committing(rows, "checkpoint")):
        return findings  # every committed checkpoint was found above
    present = {int(cp["seq"]) for cp in stored}
    findings += [
        Finding("checkpoint_changed", run_id, "the committed checkpoint is missing", seq=seq,
                key=f"checkpoint {seq}")
        for seq, row in by_seq.items() if seq not in present and commits(row, "checkpoint")
    ]  # fmt: skip
    return findings


def request_findings(run_id: str, requests: Sequence[Row], ledger: Sequence[Row]) -> list[Finding]:
    """Edited, missing or reordered requests, and a cancelling row whose committed head is not
    the chain's (requests deleted, or added after the run was cancelled)."""
    findings: list[Finding] = []
    prev = GENESIS_HASH
    for n, row in enumerate(requests, start=1):
        if int(row["n"]) != n or row["prev_hash"] != prev:
            kind: FindingKind = "deleted" if int(row["n"]) > n else "reordered"
            findings.append(Finding(kind, run_id, f"cancel request {n} is not where the chain "
                                    "has it", key=f"cancel_request {n}"))  # fmt: skip
            return findings
        if request_hash(prev, row) != row["hash"]:
            findings.append(Finding("edited", run_id, "cancel request content does not match "
                                    "its hash", key=f"cancel_request {n}"))  # fmt: skip
        prev = row["hash"]
    for row in committing(ledger, COMMIT_KEY):
        if not commits(row, COMMIT_KEY, prev):
            findings.append(Finding("deleted", run_id, "the cancel requests are not those "
                                    "the cancelling row committed to",
                                    seq=int(row["seq"])))  # fmt: skip
    return findings
