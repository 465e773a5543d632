"""Compliance queries: their typed inputs and results, and the port that answers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass(frozen=True)
class Finding:
    run_id: str
    seq: int
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    runs: int
    rows: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "runs": self.runs,
            "rows": self.rows,
            "findings": [f.__dict__ for f in self.findings],
        }


@dataclass(frozen=True)
class StateTiming:
    state: str
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float


OrdersBy = Literal["run", "definition"]


class AuditQueries(Protocol):
    def transitions(self, query: AuditFilter) -> list[dict[str, Any]]:
        """Ledger rows, newest first, with the run's account and definition hash."""
        ...

    def rejected(self, query: AuditFilter) -> list[dict[str, Any]]:
        """Refused transitions with the guards that refused them and why."""
        ...

    def time_in_state(
        self, since: datetime | None, until: datetime | None
    ) -> list[StateTiming]: ...

    def orders(
        self, by: OrdersBy, since: datetime | None, until: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Orders sent, per run or per machine definition (guard version)."""
        ...

    def verify(self, run_id: str | None = None) -> VerifyReport: ...

    def export(self, run_id: str) -> dict[str, Any]: ...


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values (share in (0, 1])."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]
