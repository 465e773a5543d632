"""The policy history: every change to the risk policy, append-only and hash-chained.

Each row is ``seq`` (from 1), ``kind`` — ``applied`` (in force at once: the defaults of
`db upgrade`, or a change that loosens nothing), ``proposed`` (a loosening change waiting for a
second person) or ``approved`` (that person's approval of proposal ``refers``, which puts its
values in force) — ``account_id`` (None: the default policy), ``values`` (the keys set, as
``fsm.policy.to_json`` writes them), ``actor``, ``reason`` and ``at``. Its hash::

    hash = sha256(prev_hash + "\\n" + canonical_json({"account_id", "actor", "at", "kind",
                                                       "reason", "refers", "seq", "values"}))

with the first row's ``prev_hash`` the ledger's ``GENESIS_HASH``. A **policy version** is the
``seq`` of the applied or approved row that put it in force; the policy of an account at a
version is the code defaults, then every default-policy value in force by then, then the
account's own values (an account's value wins over the default policy's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from fsm.actors import actor_name, same_actor
from fsm.audit import Finding
from fsm.canonical import canonical_json, sha256_hex, utc_text
from fsm.chains import chain_problems
from fsm.errors import ConcurrentModification, InvalidInput
from fsm.ledger import GENESIS_HASH
from fsm.policy import DEFAULT, RiskPolicy, loosened, to_json, with_values

TABLE = "policy_changes"
IN_FORCE = ("applied", "approved")
DEFAULTS_ACTOR = "process:db-upgrade"
DEFAULTS_AT = datetime(2026, 12, 4, tzinfo=UTC)  # the release of revision 0008's defaults
DEFAULTS_REASON = "the embedded default policy, written by `tradefsm db upgrade`"


@dataclass(frozen=True)
class PolicyChange:
    """One history row (see the module docstring)."""

    seq: int
    kind: str
    account_id: str | None
    values: dict[str, Any]
    refers: int | None
    actor: str
    reason: str
    at: datetime
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"at": utc_text(self.at)}


def row_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = {k: fields[k] for k in ("account_id", "actor", "kind", "reason", "refers", "seq",
                                   "values")}  # fmt: skip
    at = fields["at"]
    body["at"] = at if isinstance(at, str) else utc_text(at)
    return sha256_hex(f"{prev_hash}\n{canonical_json(body)}")


def next_row(rows: Sequence[PolicyChange], kind: str, account_id: str | None,
             values: dict[str, Any], refers: int | None, actor: str, reason: str,
             at: datetime) -> PolicyChange:  # fmt: skip
    seq, prev = (rows[-1].seq + 1, rows[-1].hash) if rows else (1, GENESIS_HASH)
    fields: dict[str, Any] = {"seq": seq, "kind": kind, "account_id": account_id, "values": values,
              "refers": refers, "actor": actor, "reason": reason, "at": at}  # fmt: skip
    return PolicyChange(**fields, prev_hash=prev, hash=row_hash(prev, fields))


# Keys added after version 1 was released: absent from its row, so at their default until set.
LATER_KEYS = frozenset({"exchange"})


def defaults_row() -> PolicyChange:
    """Version 1: every key of its release at its code default (`db upgrade` writes it), dated
    when these defaults were released, so that it is the same row, hash included, in every
    database; a key added later (``LATER_KEYS``) holds its default by absence."""
    values = to_json(DEFAULT.model_dump(exclude=set(LATER_KEYS)))
    return next_row((), "applied", None, values, None, DEFAULTS_ACTOR, DEFAULTS_REASON,
                    DEFAULTS_AT)  # fmt: skip


def current_version(rows: Sequence[PolicyChange]) -> int:
    """The newest version in force (0 for an empty history: the code defaults)."""
    return max((r.seq for r in rows if r.kind in IN_FORCE), default=0)


def head(rows: Sequence[PolicyChange]) -> tuple[int, str] | None:
    """The version in force and its row's hash (None for an empty history)."""
    version = current_version(rows)
    return next(((r.seq, r.hash) for r in rows if r.seq == version), None)


def policy_at(rows: Sequence[PolicyChange], account_id: str | None, version: int) -> RiskPolicy:
    """The policy of ``account_id`` (None: the default policy) at ``version``."""
    in_force = [r for r in rows if r.kind in IN_FORCE and r.seq <= version]
    values: dict[str, Any] = {}
    for scope in (None, account_id) if account_id is not None else (None,):
        for row in in_force:
            if row.account_id == scope:
                values |= row.values
    return with_values(DEFAULT, values)


@dataclass(frozen=True)
class Proposal:
    """What a person asks for: values of one scope, who and why."""

    account_id: str | None
    values: dict[str, Any]
    actor: str
    reason: str


def change_row(rows: Sequence[PolicyChange], ask: Proposal, at: datetime) -> PolicyChange:
    """The row recording ``ask``: applied when it loosens nothing, else proposed."""
    if not ask.values:
        raise InvalidInput("no policy value given: name at least one KEY=VALUE")
    actor, reason = _named(ask.actor, ask.reason)
    now = policy_at(rows, ask.account_id, current_version(rows))
    wanted = with_values(now, ask.values)
    kind = "proposed" if loosened(now, wanted) else "applied"
    stored = to_json({k: getattr(wanted, k) for k in ask.values})
    return next_row(rows, kind, ask.account_id, stored, None, actor, reason, at)


def approval_row(rows: Sequence[PolicyChange], change: int, actor: str, reason: str,
                 at: datetime) -> PolicyChange:  # fmt: skip
    """The row approving proposal ``change``; InvalidInput when it is no open proposal or the
    approver proposed it (a loosening needs a second person)."""
    actor, reason = _named(actor, reason)
    proposal = next((r for r in rows if r.seq == change), None)
    if proposal is None or proposal.kind != "proposed":
        raise InvalidInput(f"policy change {change} is not a proposal: `tradefsm policy history` "
                           "lists them")  # fmt: skip
    done = next((r for r in rows if r.refers == change), None)
    if done is not None:
        raise InvalidInput(f"policy change {change} was already approved by {done.actor} "
                           f"(version {done.seq})")  # fmt: skip
    if same_actor(proposal.actor, actor):
        raise InvalidInput(f"{actor} proposed policy change {change} and may not approve it: a "
                           "change that loosens the policy needs a second person")  # fmt: skip
    return next_row(rows, "approved", proposal.account_id, proposal.values, change, actor,
                    reason, at)  # fmt: skip


def _named(actor: str, reason: str) -> tuple[str, str]:
    if not reason.strip():
        raise InvalidInput("a policy change needs --reason: say why")
    return actor_name(actor), reason.strip()


def history_findings(rows: Sequence[PolicyChange]) -> list[Finding]:
    """What does not verify in the history's chain: an edited, inserted or deleted row."""
    chain = chain_problems(rows, lambda prev, r: row_hash(prev, asdict(r)))
    return [Finding("policy_changed", None, problem, key=f"{TABLE} row {row.seq} ({row.kind})")
            for row, problem in chain]  # fmt: skip


class PolicyBook(Protocol):
    """The policy history port (part of every RunStore). ``append_policy_change`` adds one
    row in one transaction (ConcurrentModification when another row took its ``seq`` first);
    rows never change."""

    def policy_history(self) -> list[PolicyChange]:
        """Every row, by ``seq`` (empty: no policy set, the code defaults are version 0)."""
        ...

    def append_policy_change(self, row: PolicyChange) -> None: ...

    def policy_head(self) -> tuple[int, str] | None:
        """The version in force and its row's hash (None: no policy set); read per new run."""
        ...


class MemoryPolicyBook:
    """An in-memory PolicyBook (the in-memory RunStore's)."""

    def __init__(self) -> None:
        self._policy: list[PolicyChange] = []

    def policy_history(self) -> list[PolicyChange]:
        return list(self._policy)

    def policy_head(self) -> tuple[int, str] | None:
        return head(self._policy)

    def append_policy_change(self, row: PolicyChange) -> None:
        if row.seq != len(self._policy) + 1:
            raise ConcurrentModification(f"policy change {row.seq} was recorded meanwhile")
        self._policy.append(row)


def propose(book: PolicyBook, ask: Proposal, at: datetime) -> PolicyChange:
    """Record ``ask``: in force at once when it loosens nothing, else waiting for approval."""
    row = change_row(book.policy_history(), ask, at)
    book.append_policy_change(row)
    return row


def approve(book: PolicyBook, change: int, actor: str, reason: str, at: datetime) -> PolicyChange:
    """Put proposal ``change`` in force, approved by ``actor`` (not its proposer)."""
    row = approval_row(book.policy_history(), change, actor, reason, at)
    book.append_policy_change(row)
    return row


def describe(row: PolicyChange) -> str:
    """One line saying what a change did."""
    scope = f"account {row.account_id}" if row.account_id else "the default policy"
    said = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(row.values.items()))
    if row.kind == "proposed":
        return (
            f"policy change {row.seq} ({scope}: {said}) loosens the policy and waits for a "
            f"second person: `tradefsm policy approve {row.seq} --actor NAME --reason WHY`"
        )
    return f"policy version {row.seq} in force ({scope}: {said}), by {row.actor}"


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(empty)"
    return "(unset)" if value is None else str(value)
