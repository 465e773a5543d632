"""Events from the ledger: the ledger is the outbox (docs/operations.md, "Events").

Every committed ledger row is an event; nothing else is written for it. ``events_of`` maps a
row, read with its run's account and the previous row of the same run, to the events a person
or a program subscribes to. Each event's ``id`` is derived from the row (``run_id:seq``), so it
is the same on every read: consumers deduplicate by it.

Order and delivery (``fsm.eventlog.EventLog``): rows are read in one global order, rowid on
SQLite (one writer at a time, so commit order), on PostgreSQL the writing transaction's id,
holding back every row of a transaction still open, so that no row is later committed behind
a position already read. A subscriber's cursor moves only after its batch was handed over:
delivery is at-least-once, and a batch cut short is read again from the cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pydantic import ValidationError

from fsm.errors import InvalidInput
from fsm.eventlog import CommittedRow, EventLog, EventQuery, Position
from fsm.machines.names import CREATED
from fsm.machines.names import TradingEvent as E
from fsm.machines.names import TradingState as S
from fsm.machines.specs import APPROVAL, TRADING_SPECS
from fsm.pluginrecords import Frozen, OrderStatus
from fsm.records import ExecutionReport, LedgerEntry
from fsm.spec import Parking, SpecSet

SCHEMA_VERSION = 1
HALTED_ERRORS = frozenset({"TradingHalted"})
# Kinds named for every spec set: the row that creates a run, its start and the engine-wide cancel.
ENGINE_KINDS: dict[str, str] = {
    CREATED: "run.created",
    E.START: "run.started",
    E.CANCEL: "run.cancelled",
}
# The decisions the CLI has a command for: `tradefsm approve|reject`.
COMMANDS = frozenset(decision.verb for decision in APPROVAL.decisions.values())


@dataclass(frozen=True)
class Waiting:
    """A parked state as events and mails say it: entering it is ``run.waiting_for_<what>``
    (``what``: the state's name, ``awaiting_`` dropped, so ``awaiting_approval`` is
    ``run.waiting_for_approval``), and what a person may decide there (event, verb)."""

    state: str
    decisions: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, state: str, parking: Parking) -> Waiting:
        return cls(state, tuple((event, d.verb) for event, d in parking.decisions.items()))

    @property
    def what(self) -> str:
        return self.state.removeprefix("awaiting_")

    @property
    def kind(self) -> str:
        return f"run.waiting_for_{self.what}"

    def how(self, run_id: str) -> list[tuple[str, str, str | None]]:
        """Each decision's event, verb and the CLI command that takes it (None when it has none:
        the event is sent through ``fsm.decisions.decide``)."""
        return [(event, verb, f"tradefsm {verb} {run_id} --actor NAME --reason TEXT"
                 if verb in COMMANDS else None) for event, verb in self.decisions]  # fmt: skip


@dataclass(frozen=True)
class EventKinds:
    """What a spec set's rows announce: the kind of each event with its own, the entry of each
    parked state (``Waiting``), the people's events (each parked state's decisions, announced
    ``run.<event>``, and cancel) and the rows after which another process carries a run on
    without it having stopped (a worker claiming a submitted run, the driver after a person's
    decision)."""

    kinds: Mapping[str, str]
    waiting: Mapping[str, Waiting]
    peoples: frozenset[str]
    handovers: frozenset[str]
    final: frozenset[str]

    @classmethod
    def of(cls, specs: SpecSet) -> EventKinds:
        decisions = specs.decision_events
        return cls(
            kinds=ENGINE_KINDS | {event: f"run.{event}" for event in sorted(decisions)},
            waiting={state: Waiting.of(state, spec.parking) for state, spec in specs.items()
                     if spec.parking is not None},
            peoples=specs.peoples_events, handovers=decisions | {CREATED},
            final=frozenset(specs.definition.final_states),
        )  # fmt: skip


TRADING_KINDS = EventKinds.of(TRADING_SPECS)  # what readers announce unless given another


class RunEvent(Frozen):
    """One event of a run, derived from one ledger row; ``id`` is stable across reads."""

    schema_version: int = SCHEMA_VERSION
    id: str
    kind: str
    run_id: str
    seq: int
    account_id: str
    state: str | None  # the run's state after the row (before it, for a refused event)
    event: str  # the ledger row's event
    actor: str
    correlation_id: str
    occurred_at: datetime
    summary: str
    link: str | None  # the run's console page, when TRADEFSM_CONSOLE_URL is set
    # An order event's order: client_order_id, symbol, side, qty, status, filled_qty, avg_price
    order: dict[str, str | None] | None = None


def events_of(row: CommittedRow, console_url: str | None = None,
              kinds: EventKinds = TRADING_KINDS) -> list[RunEvent]:  # fmt: skip
    """The events of one committed row: its own, preceded by ``run.resumed`` when a new
    process carries on a run another one stopped driving."""
    entry = row.entry
    kind, summary = _kind(entry, kinds)
    link = f"{console_url.rstrip('/')}/runs/{entry.run_id}" if console_url else None
    common = {
        "run_id": entry.run_id, "seq": entry.seq, "account_id": row.account_id,
        "state": entry.target if entry.accepted else entry.source, "event": entry.event,
        "actor": entry.actor, "correlation_id": entry.correlation_id,
        "occurred_at": entry.occurred_at, "link": link,
    }  # fmt: skip
    own = RunEvent(id=event_id(entry.run_id, entry.seq), kind=kind, summary=summary, **common)
    orders = [RunEvent(id=f"{own.id}:order:{o.client_order_id}", kind=_order_kind(o),
                       summary=_order_said(o), order=_order_fields(o), **common)
              for o in _final_orders(row)]  # fmt: skip
    if not carried_on(row.previous_process, row.previous_event, entry, kinds):
        return [*orders, own]
    resumed = RunEvent(
        id=f"{own.id}:resumed", kind="run.resumed",
        summary=f"resumed in {entry.source} by another process", **common,
    )  # fmt: skip
    return [resumed, *orders, own]


def _final_orders(row: CommittedRow) -> tuple[OrderStatus, ...]:
    """The orders a row that completed execution committed, those that ended (not ``new``);
    none for a checkpoint that is not an ExecutionReport (the legacy facade's)."""
    if row.execution is None:
        return ()
    try:
        report = ExecutionReport.model_validate(row.execution)
    except ValidationError:
        return ()
    return tuple(o for o in report.orders if o.status != "new")


def _order_kind(order: OrderStatus) -> str:
    return "order.filled" if order.succeeded else "order.rejected"


def _order_said(order: OrderStatus) -> str:
    filled = f" {order.filled_qty:f} at {order.avg_price:f}" if order.avg_price else ""
    return (f"order {order.side.value} {order.qty:f} {order.symbol} {order.status}{filled} "
            f"({order.client_order_id})")  # fmt: skip


def _order_fields(order: OrderStatus) -> dict[str, str | None]:
    fields = order.model_dump(mode="json", exclude={"broker_order_id"})
    return {k: None if v is None else str(v) for k, v in fields.items()}


def event_id(run_id: str, seq: int) -> str:
    return f"{run_id}:{seq}"


def parse_event_id(text: str) -> tuple[str, int] | None:
    """``(run_id, seq)`` of an event id (its ``:resumed`` suffix ignored), or None."""
    run_id, _, rest = text.partition(":")
    seq = rest.split(":", 1)[0]
    return (run_id, int(seq)) if run_id and seq.isdigit() else None


def start_of(log: EventLog, since: str) -> EventQuery:
    """The query for ``--since``: an ISO 8601 time (UTC unless it says otherwise), or an event
    id, to read the events after it."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        found = parse_event_id(since)
        after = None if found is None else log.position_of(*found)
        if after is None:
            raise InvalidInput(
                f"--since {since!r}: neither a time (e.g. 2026-01-30T14:00Z) nor the id of "
                "an event (RUN_ID:SEQ)"
            ) from None
        return EventQuery(after=after)
    return EventQuery(since=moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _kind(entry: LedgerEntry, kinds: EventKinds) -> tuple[str, str]:
    if not entry.accepted:
        refused = ", ".join(g.name for g in entry.guards if not g.passed) or "not allowed"
        return "transition.refused", f"{entry.event} refused in {entry.source}: {refused}"
    if entry.event in kinds.kinds:
        return kinds.kinds[entry.event], _said(entry)
    waiting = kinds.waiting.get(entry.target or "")
    if waiting is not None:
        how = " or ".join(command or verb for _, verb, command in waiting.how(entry.run_id))
        return waiting.kind, f"waiting for {waiting.what}: {how}"
    if entry.target == S.FAILED:
        halted = entry.error_type in HALTED_ERRORS
        return ("run.halted" if halted else "run.failed"), _said(entry)
    if entry.target in kinds.final:
        return "run.done", f"done ({entry.event})"
    return "run.progressed", f"{entry.event}: {entry.source} -> {entry.target}"


def _said(entry: LedgerEntry) -> str:
    if entry.event == CREATED:
        return f"created by {entry.actor}"
    if entry.target == S.FAILED:
        why = f"{entry.error_type}: {entry.error_message}" if entry.error_type else entry.event
        return f"failed in {entry.source} by {entry.actor}: {why}"
    return f"{entry.event} by {entry.actor}: {entry.source} -> {entry.target}"


def carried_on(previous_process: str | None, previous_event: str | None, entry: LedgerEntry,
               kinds: EventKinds = TRADING_KINDS) -> bool:  # fmt: skip
    """Whether ``entry`` was written by a process carrying on a run another one stopped
    driving (the row after ``previous_*``), which is the ``run.resumed`` event."""
    now = entry.process
    return (
        previous_process is not None and now is not None and previous_process != now
        and previous_event not in kinds.handovers and entry.event not in kinds.peoples
    )  # fmt: skip


def read_events(
    log: EventLog, query: EventQuery, console_url: str | None,
    kinds: EventKinds = TRADING_KINDS,
) -> Iterator[tuple[Position, list[RunEvent]]]:  # fmt: skip
    """Each row the query finds, batch after batch until none is left: its position and its
    events."""
    while rows := log.rows(query):
        for row in rows:
            yield row.position, events_of(row, console_url, kinds)
        query = replace(query, after=rows[-1].position)


def follow_events(
    log: EventLog,
    query: EventQuery,
    console_url: str | None,
    on_event: Callable[[RunEvent], None],
    interval: float,
    timeout: float | None,
    sleep: Callable[[float], None] = time.sleep,
    kinds: EventKinds = TRADING_KINDS,
) -> None:
    """Call ``on_event`` for every event the query finds, then for each new one as it is
    committed, until ``timeout`` seconds pass (for ever when None)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for position, events in read_events(log, query, console_url, kinds):
            for event in events:
                on_event(event)
            query = replace(query, after=position)
        if deadline is not None and time.monotonic() >= deadline:
            return
        sleep(interval)
