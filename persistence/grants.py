"""Least privilege on PostgreSQL: what each role of a tradefsm deployment may do.

- the **owner** (not granted here: it owns the tables) runs `tradefsm db upgrade`;
- the **runtime** (`run`, `worker`, `submit`, `resume`, `approve`, `reject`, `cancel`,
  `retry`, `audit verify` without digests) reads and inserts (the approver key registry it
  and the risk policy's history it only reads: the owner registers keys with `tradefsm keys
  add` and changes the policy with `tradefsm policy set|apply|approve`); it updates only the
  columns in ``RUNTIME_UPDATES`` — a run's moving state, an order intent's latest broker
  view and an event subscriber's cursor — and never deletes, truncates, alters or writes a digest;
- the **sealer** (`audit seal`) alone writes digests and the sealed heads;
- the **auditor** (`audit *`, `runs *`, `console`) only reads.

``statements`` renders them (``tradefsm db grants``): each role first loses every privilege on
tradefsm's tables, so the output is the role's whole privilege set, also after an upgrade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine

from fsm.errors import InvalidInput
from persistence.engine import SCHEMA
from persistence.errors import translate_errors

VERSION_TABLE = "alembic_version"
# The one list of columns a runtime may change after the row was inserted. Every other column
# of every table is written once; the store's UPDATE statements stay within this list (tests
# run the engine under a role granted exactly this).
RUNTIME_UPDATES: dict[str, tuple[str, ...]] = {
    "runs": ("state", "status", "version", "head_hash", "updated_at", "lease_owner",
             "lease_expires_at", "deadline_at", "result", "failure"),
    "order_intents": ("status", "broker_order_id", "filled_qty", "avg_price", "updated_at"),
    # delivery state, not history: a subscriber's cursor moves forward (fsm.events)
    "event_cursors": ("position", "run_id", "seq", "attempts", "retry_at", "last_error", "dead",
                      "updated_at", "alerts_through"),
}  # fmt: skip
RUNTIME_TABLES = ("definitions", "runs", "ledger", "checkpoints", "step_attempts",
                  "order_intents", "intent_events", "cancel_requests", "halts",
                  "event_cursors")  # fmt: skip
# The approver key registry is read at every approval; keys are registered (`tradefsm keys
# add`) by the owner, never by the runtime, which could otherwise vouch for its own signatures.
# The risk policy too: a runtime that could write it could loosen its own limits.
# Holds and tombstones are written by the owner (`tradefsm hold`, `retention apply`: only the
# owner may delete an archived run's rows); the runtime reads them for `audit verify`.
RUNTIME_READS = (*RUNTIME_TABLES, "approver_keys", "policy_changes", "holds", "tombstones")
SEALER_READS = ("runs", "digests", "sealed_heads", "halts", "holds", "tombstones")  # heads
SEALER_WRITES = ("digests", "sealed_heads")
SEALER_UPDATES = {"sealed_heads": ("seq", "head_hash")}  # its upsert of each run's sealed head
ALL_TABLES = (*RUNTIME_READS, "digests", "sealed_heads")
Grant = tuple[str, tuple[str, ...]]
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Roles:
    runtime: str | None = None
    sealer: str | None = None
    auditor: str | None = None


def statements(roles: Roles) -> list[str]:
    """The GRANT (and REVOKE) statements for each role given, in order."""
    out: list[str] = []
    auditor: list[Grant] = [("SELECT", (VERSION_TABLE, *ALL_TABLES))]
    for role, grants in ((roles.runtime, _runtime()), (roles.sealer, _sealer()),
                         (roles.auditor, auditor)):  # fmt: skip
        if role is not None:
            out += _for(_checked(role), grants)
    return out


def _runtime() -> list[Grant]:
    updates = [(f"UPDATE ({', '.join(cols)})", (table,)) for table, cols in RUNTIME_UPDATES.items()]
    return [("SELECT", (VERSION_TABLE, *RUNTIME_READS)), ("INSERT", RUNTIME_TABLES), *updates]


def _sealer() -> list[Grant]:
    updates = [(f"UPDATE ({', '.join(cols)})", (table,)) for table, cols in SEALER_UPDATES.items()]
    return [("SELECT", (VERSION_TABLE, *SEALER_READS)), ("INSERT", SEALER_WRITES), *updates]


def _for(role: str, grants: list[Grant]) -> list[str]:
    every = ", ".join(f"{SCHEMA}.{t}" for t in (VERSION_TABLE, *ALL_TABLES))
    out = [f"GRANT USAGE ON SCHEMA {SCHEMA} TO {role}", f"REVOKE ALL ON {every} FROM {role}"]
    for privilege, tables in grants:
        on = ", ".join(f"{SCHEMA}.{t}" for t in tables)
        out.append(f"GRANT {privilege} ON {on} TO {role}")
    return out


def _checked(role: str) -> str:
    if not _ROLE.fullmatch(role):
        raise InvalidInput(
            f"role name {role!r}: use lower-case letters, digits and _ (at most 63, not "
            "starting with a digit)"
        )
    return role


def apply(engine: Engine, sql: list[str]) -> None:
    """Run ``sql`` in one transaction (as the tables' owner); PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        raise InvalidInput("`db grants --apply` needs PostgreSQL: an SQLite file has no roles")
    with translate_errors(), engine.begin() as conn:
        for statement in sql:
            conn.exec_driver_sql(statement)
