"""Compliance queries: their typed inputs and results, and the port that answers them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class AuditFilter:
    run_id: str | None = None
    account_id: str | None = None
    event: str | None = None
    state: str | None = None  # rows leaving or entering this state
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    rejected: bool = False
    limit: int = 1000


FindingKind = Literal[
    "edited", "deleted", "inserted", "reordered", "truncated", "rewritten", "run_deleted",
    "run_changed", "identity_changed", "outcome_changed", "checkpoint_changed",
    "intent_changed", "definition_changed", "digest_missing", "bad_signature", "downgraded",
    "unreadable", "bad_approval_signature", "key_registry_changed", "unsealed", "run_count",
    "not_canonical", "defence_weakened", "halts_changed", "policy_changed", "holds_changed",
    "tombstone_changed", "archive_missing", "archive_changed", "partition_missing",
]  # fmt: skip
UNANCHORED = (
    "without signed digests (--digests DIR --public-key FILE) a consistent rewrite by someone "
    "with write access to the database, a deleted run or a truncated run whose row was fixed "
    "up, is not detected"
)


def refused_guards(guards: list[dict[str, Any]]) -> list[str]:
    """The guards that refused a ledger row, by name; an illegal event has none of its own."""
    return [g["name"] for g in guards if not g["passed"]] or ["(illegal event)"]


@dataclass(frozen=True)
class Finding:
    """One thing that does not verify: its kind, where (run, seq or record key) and why."""

    kind: FindingKind
    run_id: str | None
    problem: str
    seq: int | None = None
    key: str | None = None

    def where(self) -> str:
        parts = [f"run {self.run_id}" if self.run_id else "", f"seq {self.seq}" if self.seq else "",
                 self.key or ""]  # fmt: skip
        return ": ".join(p for p in parts if p)


@dataclass(frozen=True)
class RunSeal:
    """How far the signed digests cover one run: the newest digest ``n`` that sealed its head,
    the ``seq`` it sealed up to and when (None, None, None: no digest covers it yet), the
    newest digest's time, and the ``rows`` the run's ledger has now."""

    n: int | None
    seq: int | None
    sealed_at: str | None
    newest_at: str | None
    rows: int

    @property
    def complete(self) -> bool:
        """Whether every row the run has now is under a signed digest."""
        return self.seq is not None and self.seq >= self.rows


@dataclass(frozen=True)
class VerifyReport:
    runs: int
    rows: int
    findings: list[Finding] = field(default_factory=list)
    legacy_runs: int = 0  # runs written before commitments: their chain covers transitions only
    anchored: bool = False  # checked against signed digest files
    digests: int = 0
    seal: RunSeal | None = None  # a one-run verification against digests: how far they cover it
    archived: dict[str, str] = field(default_factory=dict)  # archived run -> its bundle's hash

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "runs": self.runs,
            "rows": self.rows,
            "legacy_runs": self.legacy_runs,
            "anchored": self.anchored,
            "digests": self.digests,
            "not_detected": None if self.anchored else UNANCHORED,
            "findings": [f.__dict__ for f in self.findings],
            "archived": dict(self.archived),
        }


@dataclass(frozen=True)
class StateTiming:
    """How long runs stayed in one state: ``count`` stays, ``still`` of them not over (a run
    in the state now: its stay counts up to now), and the run of the longest stay."""

    state: str
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    still: int = 0
    longest_run_id: str = ""


# The columns of a timing in tables and CSV (the command line's and the console's).
TIMING_COLUMNS = ("state", "count", "still", "p50_ms", "p95_ms", "max_ms", "longest_run_id")
# A stay in a state: (state, run_id, milliseconds, still there).
Stay = tuple[str, str, float, bool]


def timings(stays: Iterable[Stay], order: Sequence[str]) -> list[StateTiming]:
    """The stays' statistics per state, the states in ``order`` (the chart's), others after."""
    by_state: dict[str, list[tuple[float, str, bool]]] = {}
    for state, run_id, ms, still in stays:
        by_state.setdefault(state, []).append((ms, run_id, still))
    rank = {state: n for n, state in enumerate(order)}
    shown = []
    for state in sorted(by_state, key=lambda s: (rank.get(s, len(rank)), s)):
        found = sorted(by_state[state])
        spent = [f[0] for f in found]
        shown.append(StateTiming(state, len(spent), round(percentile(spent, 0.5), 3),
                                 round(percentile(spent, 0.95), 3), round(spent[-1], 3),
                                 sum(f[2] for f in found), found[-1][1]))  # fmt: skip
    return shown


OrdersBy = Literal["run", "definition"]


class AuditQueries(Protocol):
    def transitions(self, query: AuditFilter) -> list[dict[str, Any]]:
        """Ledger rows, newest first, with the run's account and definition hash."""
        ...

    def rejected(self, query: AuditFilter) -> list[dict[str, Any]]:
        """Refused transitions with the guards that refused them and why."""
        ...

    def time_in_state(
        self, since: datetime | None, until: datetime | None, now: datetime
    ) -> list[StateTiming]:
        """Per state of the chart, in its order: the stays that began and ended in the window
        and those of the active runs that entered their state in it, up to ``now``."""
        ...

    def orders(
        self, by: OrdersBy, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Orders sent, per run or per machine definition (guard version)."""
        ...

    def verify(
        self, run_id: str | None = None, anchors: Any = None, archive: Path | None = None
    ) -> VerifyReport:
        """Check chains and commitments (RunNotFound for an unknown ``run_id``); with
        ``anchors`` (digest folder and public keys), the signed digests as well; with
        ``archive``, the evidence bundles of archived runs in that folder (verified with the
        anchors' public keys when given)."""
        ...

    def export_evidence(self, run_id: str, folder: Path) -> list[Path]:
        """Write the run's self-verifying evidence bundle (``fsm.bundle``) into ``folder``."""
        ...

    def coverage(self) -> list[dict[str, Any]]:
        """Every column of every table (schema and database): how it is committed, or why
        it need not be; ``classified`` False for a column the coverage map does not know."""
        ...

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]: ...


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values (share in (0, 1])."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]
