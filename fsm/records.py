"""Frozen, versioned records of the engine: the step outputs it derives (analysis, plan,
execution report), the ledger, runs, checkpoints and order intents. Money and quantities are
Decimal, never float. What plugins return or receive is in ``fsm.pluginrecords``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from fsm.errors import InvalidInput
from fsm.kinds import Mode, RunStatus
from fsm.pluginrecords import Frozen, OrderIntent, OrderStatus, Side, without_none


class Outcome(StrEnum):
    """How an execution ended: every order filled, some, or none (``ExecutionReport``)."""

    SUCCESS = "SUCCESS"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
    FAILURE = "FAILURE"


# ---- step outputs -------------------------------------------------------------------------


class AllocationAnalysis(Frozen):
    """Current vs target allocation; everything planning needs, so it can be re-run alone."""

    schema_version: Literal[1] = 1
    as_of: date
    portfolio_value: Decimal
    cash: Decimal
    buying_power: Decimal
    prices: dict[str, Decimal]
    positions: dict[str, Decimal]
    current_weights: dict[str, Decimal]
    target_weights: dict[str, Decimal]
    max_drift: Decimal
    drift_threshold: Decimal
    rebalance_needed: bool
    price_dates: dict[str, date] = {}  # the date of each price (older checkpoints: none)
    previous_prices: dict[str, Decimal] = {}
    # The market data's plugin, version and, for a price file, its path and SHA-256; absent
    # (not even null) when the engine was given adapters directly, as checkpoints were before.
    market_data: dict[str, str] | None = None

    @model_serializer(mode="wrap")
    def _without_absent_source(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return without_none(dump(self), "market_data")


class PlanItem(Frozen):
    symbol: str
    action: Side
    target_value: Decimal
    current_value: Decimal
    amount: Decimal
    qty: Decimal
    price: Decimal
    priority: int = Field(description="1 for ≥ $10k ... 5 for under $50")


class RebalancePlan(Frozen):
    schema_version: Literal[1] = 1
    as_of: date
    portfolio_value: Decimal
    buying_power: Decimal
    min_trade_amount: Decimal
    items: tuple[PlanItem, ...]
    price_dates: dict[str, date] = {}  # the date of each price the plan was built on

    @property
    def trades(self) -> tuple[PlanItem, ...]:
        return tuple(i for i in self.items if i.action is not Side.HOLD)

    @property
    def notional(self) -> Decimal:
        """Dollars the plan moves: the sum of its BUY and SELL amounts."""
        return sum((abs(i.amount) for i in self.trades), Decimal(0))


class ExecutionReport(Frozen):
    schema_version: Literal[1] = 1
    placed: int
    succeeded: int
    trades_required: bool
    outcome: Outcome
    orders: tuple[OrderStatus, ...]


# ---- run records ----------------------------------------------------------------------------


class GuardDecision(Frozen):
    name: str
    passed: bool
    reason: str
    inputs: dict[str, str] = {}


class LedgerEntry(Frozen):
    """One row of the append-only transition ledger."""

    run_id: str
    seq: int
    event: str
    source: str | None
    target: str | None
    accepted: bool
    guards: tuple[GuardDecision, ...] = ()
    actor: str
    correlation_id: str
    causation_id: str | None
    occurred_at: datetime
    duration_ms: int = 0
    attempt: int = 1
    error_type: str | None = None
    error_message: str | None = None
    commits: dict[str, str] = {}  # digests of the records this transition committed
    scheme: int = 4  # the canonical form hashed (fsm.ledger); 1 to 3 for older rows
    process: str | None = None  # who committed it: a lease owner id (scheme 4 on)
    prev_hash: str
    hash: str


class CancelRequest(Frozen):
    """An operator's request to cancel a run a live process drives (``fsm.cancels``)."""

    run_id: str
    n: int
    actor: str
    reason: str
    process: str  # the process that recorded the request
    requested_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class EncodedDocuments:
    """A transition's documents in canonical JSON (``fsm.canonical``), as the ledger hashed
    them: the ledger row's guards and commits and the checkpoint's output (None without one).

    They are the same documents as the records'; a store may write these texts instead of
    encoding the records a second time.
    """

    guards: str
    commits: str
    output: str | None = None


class Checkpoint(Frozen):
    run_id: str
    seq: int
    state: str
    schema_version: int
    output: dict[str, Any]


# What a caller names a run by. Each limit is its column's size in the run database
# (persistence/tables.py takes these numbers), so what the model accepts is stored alike on
# SQLite and PostgreSQL, and what it refuses is refused before the database is asked.
# RunRecord does not repeat the checks: rows stored before them must still read.
ACCOUNT_ID_LENGTH = 64
CORRELATION_ID_LENGTH = 64
IDEMPOTENCY_KEY_LENGTH = 200
VISIBLE_ASCII = r"^[!-~]+$"  # letters, digits, punctuation: no space, control or escape


class RunLabels(Frozen):
    """The identifiers a caller gives a run, checked before anything is stored."""

    idempotency_key: str | None = Field(
        None, min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH, pattern=VISIBLE_ASCII
    )
    correlation_id: str | None = Field(
        None, min_length=1, max_length=CORRELATION_ID_LENGTH, pattern=VISIBLE_ASCII
    )


LABEL_NAMES = {"idempotency_key": "idempotency key", "correlation_id": "correlation id"}


def run_labels(names: dict[str, str] = LABEL_NAMES, **values: str | None) -> RunLabels:
    """``values`` as RunLabels, or InvalidInput naming the first wrong one as ``names`` calls
    it (an option on the command line) and saying its limit."""
    try:
        return RunLabels.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0])
        constraints = RunLabels.model_fields[field].metadata
        most = next(c.max_length for c in constraints if hasattr(c, "max_length"))
        raise InvalidInput(f"{names.get(field, field)} {_wrong(error, most)}") from None


def _wrong(error: Any, most: int) -> str:
    value = str(error["input"])
    if error["type"] == "string_too_long":
        return f"is {len(value)} characters long: at most {most}"
    shown = ascii(value[:40]) + ("…" if len(value) > 40 else "")
    return (
        f"{shown} is not allowed: 1 to {most} visible ASCII characters (letters, digits, "
        "punctuation; no spaces or control characters)"
    )


class RunRecord(Frozen):
    run_id: str
    correlation_id: str
    idempotency_key: str | None = None
    account_id: str
    mode: Mode
    as_of: date
    state: str
    status: RunStatus
    version: int
    parent_run_id: str | None = None
    definition_hash: str
    params: dict[str, Any] = {}
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    head_hash: str
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    deadline_at: datetime | None = None


class StoredIntent(Frozen):
    """An order intent as the run database keeps it, with what the broker said since."""

    run_id: str
    intent: OrderIntent
    status: str
    broker_order_id: str | None = None
    filled_qty: Decimal | None = None
    avg_price: Decimal | None = None
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The intent as scripts see it: its order fields and what the broker said."""
        row = self.model_dump(mode="json", exclude={"intent"})
        row.update(self.intent.model_dump(mode="json"))
        return row


class StepAttempt(Frozen):
    """One try of a step: retries are auditable."""

    run_id: str
    state: str
    attempt: int
    started_at: datetime
    finished_at: datetime
    outcome: Literal["ok", "error"]
    error_type: str | None = None
    error_message: str | None = None


class Fence(Frozen):
    """Proof that a writer still owns the run: its version and lease must match the row."""

    run_id: str
    version: int
    lease_owner: str
    lease_expires_at: datetime


class IntentUpdate(Frozen):
    """What the broker said about an intent: its ack, then its fills and final status."""

    run_id: str
    client_order_id: str
    status: str
    broker_order_id: str | None = None
    filled_qty: Decimal | None = None
    avg_price: Decimal | None = None
    updated_at: datetime


class IntentEvent(Frozen):
    """One entry of an order intent's append-only history, chained by hash per intent."""

    client_order_id: str
    n: int
    run_id: str
    status: str
    broker_order_id: str | None = None
    filled_qty: Decimal | None = None
    avg_price: Decimal | None = None
    recorded_at: datetime
    prev_hash: str | None = None  # None on legacy rows
    hash: str | None = None


class Definition(Frozen):
    definition_hash: str
    canonical: dict[str, Any]
    mermaid: str

    def record(self) -> Definition:
        """Itself: what ``RunStore.ensure_definition`` stores (``fsm.ports.DefinitionSource``)."""
        return self
