"""The coverage map: how `audit verify` proves each column of each table, or why it need not.

Every column of ``persistence.tables`` has one entry in ``COLUMNS`` (one line each: add the
line with the column); every table one entry in ``TABLES`` (what proves that no row was added
or removed). ``coverage`` reads the schema itself and the live database's columns, so a column
the map does not know is listed as unclassified (`tradefsm audit coverage` exits 8) and the
mutation tests fail until it is classified. ``python -m persistence.coverage`` rewrites the
generated table of docs/audit-integrity.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from persistence import partitions
from persistence.tables import metadata


@dataclass(frozen=True)
class Cover:
    """``by``: the chain, digest or commitment that proves the value ("" when nothing does);
    ``how``: how `audit verify` checks it, or why leaving it unproven is safe."""

    by: str
    how: str

    @property
    def committed(self) -> bool:
        return bool(self.by)


def safe(why: str) -> Cover:
    return Cover("", why)


IDENTITY = Cover("commits.identity", "in the run's identity, committed by its first ledger row")
HEAD = Cover("ledger head", "must agree with the run's last ledger row")
OUTCOME = Cover("commits.outcome", "committed by the row ending the run (SQL NULL vs JSON null)")
DEADLINE = Cover("guard input", "the `deadline` decision of the transition that set it")
LEDGER = Cover("ledger chain", "hashed in its ledger row; rows chained, head in the run row")
LINK = Cover("ledger chain", "the chain's links, recomputed and compared")
CHECKPOINT = Cover("commits.checkpoint", "committed by the transition that stored it")
INTENT = Cover("intent history", "hashed in each history event, committed by commits.intents")
VIEW = Cover("intent history", "the order's latest view: must equal its last history event")
EVENT = Cover("intent history", "hashed in the event; events chained, last one in commits.intents")
DEFINITION = Cover("definition hash", "the canonical definition must hash to its name")
DIGEST = Cover("signed digest", "must equal the signed digest file of the same number")
LEASE = safe(
    "who drives the run now: coordination between workers, never evidence; a forged "
    "lease at most lets a worker take or wait for the run (each move is a chained row)"
)
STEP_TRY = safe(
    "a record of each try of a step, append-only by triggers; what a try decided "
    "is in the ledger row it led to (attempt, error), which the chain proves"
)
CANCEL = Cover("cancel requests", "hashed in its request; requests chained per run, the head "
               "committed by the row that cancels the run")  # fmt: skip
KEYS = Cover("key registry", "hashed in its row; rows chained; every signed approval is checked "
             "against the key it names")  # fmt: skip
HALTS = Cover("halts history", "hashed in its row; rows chained; a run failed for a halt "
              "commits the head it obeyed (commits.halts)")  # fmt: skip
POLICY = Cover("policy history", "hashed in its row; rows chained; each run's identity commits "
               "the hash of the version it pinned")  # fmt: skip
HOLDS = Cover("holds history", "hashed in its row; rows chained; the head signed by the next "
              "digest")  # fmt: skip
TOMBSTONE = Cover("tombstones", "hashed in its row; rows chained; the head signed by the next "
                  "digest; head_seq and head_hash must be the run's signed head")  # fmt: skip
CURSOR = safe(
    "where an event subscriber has read the ledger to: mutable delivery state, not "
    "append-only and never evidence (events are re-derived from the ledger rows)"
)
SEALED = safe("a cache of the head each run had at its last digest, read by `audit seal` only; "
              "verify reads the signed digest files instead")  # fmt: skip

COLUMNS: dict[tuple[str, str], Cover] = {
    ("definitions", "definition_hash"): DEFINITION,
    ("definitions", "canonical"): DEFINITION,
    ("definitions", "mermaid"): safe("never read back: every diagram is drawn from the "
                                     "canonical definition; the text is a convenience copy"),
    ("runs", "run_id"): IDENTITY,
    ("runs", "correlation_id"): IDENTITY,
    ("runs", "idempotency_key"): IDENTITY,
    ("runs", "account_id"): IDENTITY,
    ("runs", "mode"): IDENTITY,
    ("runs", "as_of"): IDENTITY,
    ("runs", "state"): HEAD,
    ("runs", "status"): HEAD,
    ("runs", "version"): HEAD,
    ("runs", "parent_run_id"): IDENTITY,
    ("runs", "definition_hash"): IDENTITY,
    ("runs", "lease_owner"): LEASE,
    ("runs", "lease_expires_at"): LEASE,
    ("runs", "deadline_at"): DEADLINE,
    ("runs", "params"): IDENTITY,
    ("runs", "result"): OUTCOME,
    ("runs", "failure"): OUTCOME,
    ("runs", "head_hash"): HEAD,
    ("runs", "created_at"): IDENTITY,
    ("runs", "updated_at"): HEAD,
    **{("ledger", name): LEDGER for name in (
        "run_id", "seq", "event", "source", "target", "accepted", "guards", "actor",
        "correlation_id", "causation_id", "occurred_at", "duration_ms", "attempt",
        "error_type", "error_message", "commits", "scheme", "process",
    )},
    ("ledger", "txid"): safe("the writing transaction's id (PostgreSQL), set by the database: "
                             "orders rows for event subscribers only; an edit at most "
                             "re-delivers or skips a notification, never changes history"),
    ("ledger", "prev_hash"): LINK,
    ("ledger", "hash"): LINK,
    **{("checkpoints", name): CHECKPOINT for name in (
        "run_id", "seq", "state", "schema_version", "output")},
    ("checkpoints", "recorded_at"): Cover("ledger chain", "must equal the occurred_at of its "
                                          "ledger row, which the chain hashes"),
    **{("order_intents", name): INTENT for name in (
        "client_order_id", "run_id", "position", "symbol", "side", "qty", "reference_price")},
    **{("order_intents", name): VIEW for name in (
        "status", "broker_order_id", "filled_qty", "avg_price", "updated_at")},
    **{("step_attempts", name): STEP_TRY for name in (
        "run_id", "state", "attempt", "started_at", "finished_at", "outcome", "error_type",
        "error_message")},
    **{("intent_events", name): EVENT for name in (
        "client_order_id", "n", "status", "broker_order_id", "filled_qty", "avg_price",
        "recorded_at", "prev_hash", "hash")},
    ("intent_events", "run_id"): Cover("intent history", "must equal its order's run_id"),
    **{("digests", name): DIGEST for name in (
        "n", "digest_hash", "key_id", "created_at", "document")},
    **{("sealed_heads", name): SEALED for name in ("run_id", "seq", "head_hash")},
    **{("cancel_requests", name): CANCEL for name in (
        "run_id", "n", "actor", "reason", "process", "requested_at", "prev_hash", "hash")},
    **{("approver_keys", name): KEYS for name in (
        "seq", "actor", "fingerprint", "public_key", "added_by", "added_at", "prev_hash",
        "hash")},
    **{("halts", name): HALTS for name in (
        "seq", "action", "account_id", "actor", "reason", "process", "occurred_at", "prev_hash",
        "hash")},
    **{("policy_changes", name): POLICY for name in (
        "seq", "kind", "account_id", "values", "refers", "actor", "reason", "at", "prev_hash",
        "hash")},
    **{("holds", name): HOLDS for name in (
        "seq", "action", "run_id", "account_id", "actor", "reason", "process", "occurred_at",
        "prev_hash", "hash")},
    **{("tombstones", name): TOMBSTONE for name in (
        "seq", "run_id", "head_seq", "head_hash", "bundle_hash", "actor", "reason", "process",
        "archived_at", "prev_hash", "hash")},
    **{("event_cursors", name): CURSOR for name in (
        "subscriber", "position", "run_id", "seq", "attempts", "retry_at", "last_error", "dead",
        "updated_at", "alerts_through")},
    ("alembic_version", "version_num"): safe("the schema revision: a wrong one makes tradefsm "
                                             "refuse the database or migrate it again"),
}  # fmt: skip

TABLES: dict[str, Cover] = {
    "definitions": Cover("definition hash", "every run's definition must be present"),
    "runs": Cover("ledger chain", "a run row needs its ledger; ledger rows need their run; "
                                  "a whole run gone: the signed digests"),
    "ledger": Cover("ledger chain", "rows numbered and chained; head in the run row"),
    "checkpoints": Cover("commits.checkpoint", "each one committed, none without a commitment"),
    "order_intents": Cover("commits.intents", "the run's set of orders is committed"),
    "intent_events": Cover("intent history", "events numbered and chained per order"),
    "step_attempts": STEP_TRY,
    "digests": Cover("signed digest", "each digest file needs its row and each row its file"),
    "sealed_heads": SEALED,
    "cancel_requests": Cover("cancel requests", "numbered and chained per run; the cancelling "
                                                "row commits the head"),
    "approver_keys": Cover("key registry", "numbered and chained; the newest rows are checked "
                                           "through the signed approvals that use them only"),
    "halts": Cover("halts history", "numbered and chained; a run failed for a halt commits "
                                    "the head of the rows before it"),
    "policy_changes": Cover("policy history", "numbered and chained; a run's identity commits "
                                              "the row of the version it pinned"),
    "holds": Cover("holds history", "numbered and chained; the next digest signs its head"),
    "tombstones": Cover("tombstones", "numbered and chained; the next digest signs its head; "
                                      "a sealed run gone without its tombstone: run_deleted"),
    "event_cursors": CURSOR,
    "alembic_version": safe("the schema revision (see its column)"),
}  # fmt: skip


UNCLASSIFIED = "not in the coverage map: nothing says how it is proven"


def coverage(engine: Engine | None = None) -> list[dict[str, Any]]:
    """One row per column of the schema (and of the live database, when given): how it is
    committed; ``classified`` is False for a column the map does not know."""
    order = [(t.name, c.name) for t in metadata.sorted_tables for c in t.columns]
    schema, live = set(order), _live_columns(engine) if engine is not None else set()
    place = {key: n for n, key in enumerate(order)}
    rows = []
    for key in sorted(schema | live | set(COLUMNS), key=lambda k: (k[0], place.get(k, 1e9), k)):
        cover = COLUMNS.get(key) or safe("")
        rows.append({
            "table": key[0], "column": key[1], "committed": cover.committed, "by": cover.by,
            "how": cover.how or UNCLASSIFIED, "classified": key in COLUMNS,
            "in_schema": key in schema, "in_database": key in live,
        })  # fmt: skip
    return rows


def _live_columns(engine: Engine) -> set[tuple[str, str]]:
    found, months = inspect(engine), partitions.partition_names(engine)
    tables = [t for t in found.get_table_names() if t not in months]
    return {(t, c["name"]) for t in tables for c in found.get_columns(t)}


def markdown() -> str:
    """The generated table of docs/audit-integrity.md."""
    lines = ["| table | column | committed by | how, or why it need not be |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for row in coverage():
        by = row["by"] or "not committed"
        lines.append(f"| `{row['table']}` | `{row['column']}` | {by} | {row['how']} |")
    lines += ["", "| table | rows added or removed are found by | how |", "| --- | --- | --- |"]
    for table, cover in sorted(TABLES.items()):
        lines.append(f"| `{table}` | {cover.by or 'not committed'} | {cover.how} |")
    return "\n".join(lines) + "\n"


PAGE = Path(__file__).resolve().parent.parent / "docs" / "audit-integrity.md"
BEGIN = "<!-- coverage map: generated by `python -m persistence.coverage` -->\n"
END = "<!-- end of coverage map -->\n"


def page_with_map(page: str) -> str:
    """The page with its generated section replaced by the current map."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}{markdown()}{END}{tail}"


if __name__ == "__main__":
    PAGE.write_text(page_with_map(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
