"""The run database: runs, the append-only ledger, checkpoints, order intents, definitions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Insert,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    insert,
    text,
)

from fsm.records import ACCOUNT_ID_LENGTH, CORRELATION_ID_LENGTH, IDEMPOTENCY_KEY_LENGTH
from persistence.base import metadata
from persistence.partial import partial_index
from persistence.types import DecimalText, JsonDocument, UtcDateTime

__all__ = [
    "ENTRY_COLUMNS",
    "TXID",
    "approver_keys",
    "cancel_requests",
    "checkpoints",
    "definitions",
    "digests",
    "event_cursors",
    "halts",
    "holds",
    "insert_written",
    "intent_events",
    "ledger",
    "metadata",
    "order_intents",
    "policy_changes",
    "runs",
    "sealed_heads",
    "step_attempts",
    "tombstones",
]

ID = String(64)
HASH = String(64)
TXID = "txid"

definitions = Table(
    "definitions",
    metadata,
    Column("definition_hash", HASH, primary_key=True),
    Column("canonical", JsonDocument, nullable=False),
    Column("mermaid", Text, nullable=False),
)

# The predicate of the claimable-runs index; the claim repeats it verbatim, as SQLite uses a
# partial index only for a query whose WHERE holds the index's own terms.
CLAIMABLE_WHERE = "status IN ('queued', 'active')"

runs = Table(
    "runs",
    metadata,
    Column("run_id", ID, primary_key=True),
    Column("correlation_id", String(CORRELATION_ID_LENGTH), nullable=False),
    Column("idempotency_key", String(IDEMPOTENCY_KEY_LENGTH), nullable=True, unique=True),
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("state", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("parent_run_id", ID, ForeignKey("runs.run_id"), nullable=True),
    Column("definition_hash", HASH, ForeignKey("definitions.definition_hash"), nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("deadline_at", UtcDateTime, nullable=True),
    Column("params", JsonDocument, nullable=False),
    Column("result", JsonDocument, nullable=True),
    Column("failure", JsonDocument, nullable=True),
    Column("head_hash", HASH, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_runs_created_at", "created_at"),
    Index("ix_runs_state", "state"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_correlation_id", "correlation_id"),  # the console's search box
    Index("ix_runs_account_id_created_at", "account_id", "created_at"),
    Index("ix_runs_definition_hash_created_at", "definition_hash", "created_at"),
    # The claim's candidates and its order: unfinished runs only, so a claim never reads the
    # finished ones however many the table keeps (persistence/leases.py, migration 0016).
    partial_index("ix_runs_claimable", "created_at", "run_id", where=CLAIMABLE_WHERE),
    # At most one active run per account.
    partial_index("uq_runs_active_account", "account_id", unique=True, where="status = 'active'"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("run_id", ID, ForeignKey("runs.run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event", String(64), nullable=False),
    Column("source", String(32), nullable=True),
    Column("target", String(32), nullable=True),
    Column("accepted", Boolean, nullable=False),
    Column("guards", JsonDocument, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("correlation_id", String(CORRELATION_ID_LENGTH), nullable=False),
    Column("causation_id", String(200), nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("commits", JsonDocument, nullable=True),  # NULL on legacy (scheme 1) rows
    Column("scheme", Integer, nullable=False, server_default=text("1")),
    Column("process", String(160), nullable=True),  # hashed from scheme 4 on; NULL before
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
    # PostgreSQL: the writing transaction's id, by a server default (revision 0012; never in
    # an INSERT); it orders rows for event subscribers (fsm.events). NULL on SQLite, whose
    # rowid orders them (one writer at a time).
    Column(TXID, BigInteger, nullable=True),
    Index("ix_ledger_occurred_at", "occurred_at"),
    Index("ix_ledger_event_occurred_at", "event", "occurred_at"),
    Index("ix_ledger_actor_occurred_at", "actor", "occurred_at"),
    # Refused transitions are rare: a partial index finds them without scanning the rest.
    partial_index(
        "ix_ledger_refused", "occurred_at", where="accepted = false", sqlite_where="accepted = 0"
    ),
    # Nothing to index (nor to write) on SQLite.
    partial_index("ix_ledger_txid", TXID, "run_id", "seq", where=f"{TXID} IS NOT NULL"),
)

# A ledger row as recorded (fsm.records.LedgerEntry): every column but the database's txid.
ENTRY_COLUMNS = tuple(c for c in ledger.c if c.name != TXID)


def insert_written(table: Table) -> Insert:
    """An INSERT binding every column tradefsm writes: all but those the database sets."""
    return insert(table).values({c.name: bindparam(c.name) for c in table.c if c.name != TXID})


checkpoints = Table(
    "checkpoints",
    metadata,
    Column("run_id", ID, ForeignKey("runs.run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("state", String(32), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("output", JsonDocument, nullable=False),
    # The occurred_at of the ledger row written with it (revision 0018): the month partition
    # key on PostgreSQL; `audit verify` reports a checkpoint whose time is not its row's.
    Column("recorded_at", UtcDateTime, nullable=False),
)

order_intents = Table(
    "order_intents",
    metadata,
    Column("client_order_id", String(48), primary_key=True),
    Column("run_id", ID, ForeignKey("runs.run_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("symbol", String(16), nullable=False),
    Column("side", String(4), nullable=False),
    Column("qty", DecimalText, nullable=False),
    Column("reference_price", DecimalText, nullable=False),
    Column("status", String(32), nullable=False),
    Column("broker_order_id", String(64), nullable=True),
    Column("filled_qty", DecimalText, nullable=True),
    Column("avg_price", DecimalText, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_order_intents_run_id", "run_id"),
)

step_attempts = Table(
    "step_attempts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.run_id"), primary_key=True),
    Column("state", String(32), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
)

# Every change to an order intent, append-only: order_intents holds the latest view.
intent_events = Table(
    "intent_events",
    metadata,
    Column("client_order_id", String(48), ForeignKey("order_intents.client_order_id"),
           primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("run_id", ID, ForeignKey("runs.run_id"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("broker_order_id", String(64), nullable=True),
    Column("filled_qty", DecimalText, nullable=True),
    Column("avg_price", DecimalText, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    # Each intent's events form a hash chain (fsm.commitments); NULL on legacy rows.
    Column("prev_hash", HASH, nullable=True),
    Column("hash", HASH, nullable=True),
    Index("ix_intent_events_run_id", "run_id"),
)  # fmt: skip

# Operators' requests to cancel a run a live process drives, append-only; each run's requests
# form a hash chain (fsm.cancels) whose head the row that cancels the run commits to.
cancel_requests = Table(
    "cancel_requests",
    metadata,
    Column("run_id", ID, ForeignKey("runs.run_id"), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("process", String(160), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# Signed digests of run heads (`tradefsm audit seal`), append-only; each is also a file.
digests = Table(
    "digests",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("digest_hash", HASH, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("document", JsonDocument, nullable=False),  # the digest file's content
)

# The head each run had at its last digest: tells `seal` which runs changed since. A cache for
# sealing only; verification never trusts it (it reads the signed digest files).
sealed_heads = Table(
    "sealed_heads",
    metadata,
    Column("run_id", ID, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("head_hash", HASH, nullable=False),
)

# The approver key registry (`tradefsm keys add`), append-only; its rows form a hash chain of
# their own (fsm.keyregistry) that `audit verify` checks.
approver_keys = Table(
    "approver_keys",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("actor", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("added_by", String(128), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# The kill switch (`tradefsm halt`, `unhalt`, the throttle), append-only; one hash chain
# (fsm.halts) that `audit verify` checks; a run failed for a halt commits to its head.
halts = Table(
    "halts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("action", String(16), nullable=False),
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=True),  # NULL: every account
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("process", String(160), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# The risk policy's history (`tradefsm policy`), append-only; its rows form a hash chain of
# their own (fsm.policyhistory) that `audit verify` checks, and every run commits (in its
# identity) the hash of the row whose version it pinned.
policy_changes = Table(
    "policy_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("values", JsonDocument, nullable=False),
    Column("refers", Integer, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# Legal holds (`tradefsm hold add|remove`), append-only; one hash chain (fsm.holds) that
# `audit verify` checks and the next digest signs the head of. A run held by its own row or by
# its account's is never archived.
holds = Table(
    "holds",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("action", String(16), nullable=False),  # "hold" or "release"
    Column("run_id", ID, nullable=True),  # exactly one of run_id and account_id is set
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("process", String(160), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# Archived runs (`tradefsm retention apply`), append-only: what was removed (the run's head),
# where its evidence went (the bundle's hash), who, when and why. One hash chain
# (fsm.tombstones) whose head the next digest signs; the append-only tables let a run's rows
# be deleted only once its tombstone is written (persistence.append_only).
tombstones = Table(
    "tombstones",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("run_id", ID, nullable=False, unique=True),
    Column("head_seq", Integer, nullable=False),
    Column("head_hash", HASH, nullable=False),
    Column("bundle_hash", HASH, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("process", String(160), nullable=False),
    Column("archived_at", UtcDateTime, nullable=False),
    Column("prev_hash", HASH, nullable=False),
    Column("hash", HASH, nullable=False),
)

# Where each event subscriber (fsm.events) has read the ledger to: mutable, one row per
# subscriber, moved forward after each delivered batch. ``position`` is the last delivered
# row's rowid (SQLite) or transaction id (PostgreSQL), ``run_id`` and ``seq`` the row itself
# (all NULL before the first delivery); ``attempts`` the failed tries of the next one, retried
# from ``retry_at``, ``dead`` once they ran out (`tradefsm events redeliver` revives it).
event_cursors = Table(
    "event_cursors",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("position", BigInteger, nullable=True),
    Column("run_id", ID, nullable=True),
    Column("seq", Integer, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("retry_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("dead", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Up to when the subscriber was handed the time-based events (run.not_done_by).
    Column("alerts_through", UtcDateTime, nullable=True),
)
