"""The run reports mailed to people, from events (docs/operations.md, "Email").

Four kinds, as the legacy system mailed them: SUCCESS (a run ended done: its order counts and
the positions after it), RECOVERED (a run that was resumed by another process and ended done),
FAILURE (a run ended failed: the state it failed in, its error, the guard that refused and the
reason) and, for each parked state of the spec set, WAITING FOR its name (APPROVAL for
``awaiting_approval``), with the decisions a person may take and how. Every other event is not
mailed. A failure identical to one of the same account shortly before it (the quiet period) is
not mailed either: which failures are mailed is derived from the run database, so it is the
same on every delivery of the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from fsm.eventlog import CommittedRow, Position
from fsm.events import TRADING_KINDS, EventKinds, RunEvent, Waiting, carried_on, events_of
from fsm.kinds import RunStatus
from fsm.machines.names import TradingState as S
from fsm.pluginrecords import Side
from fsm.ports import RunFilter, RunStore
from fsm.records import RunRecord, StoredIntent

SUCCEEDED = frozenset({"filled", "partially_filled"})
ANALYSIS_STATE = S.ANALYZING  # its checkpoint holds the account's positions before trading


@dataclass(frozen=True)
class RunMail:
    """One report: its kind (SUCCESS, RECOVERED, FAILURE, WAITING FOR APPROVAL or another
    parked state), subject and plain-text body."""

    kind: str
    subject: str
    body: str


class RunReports:
    """Composes the report of an event from what the run database holds of its run; ``kinds``
    are those the events were read with (the spec set's parked states and decisions)."""

    def __init__(self, store: RunStore, quiet: timedelta,
                 kinds: EventKinds = TRADING_KINDS) -> None:  # fmt: skip
        self._store, self._quiet, self._kinds = store, quiet, kinds

    def of(self, event: RunEvent) -> RunMail | None:
        """The event's report, or None when it is not mailed."""
        if event.kind == "run.done":
            return self._done(event)
        if _ended_failed(event):
            return self._failed(event)
        waiting = self._kinds.waiting.get(event.state or "")
        if waiting is not None and event.kind == waiting.kind:
            return self._waiting(event, waiting)
        return None

    def _done(self, event: RunEvent) -> RunMail:
        run, store = self._store.get_run(event.run_id), self._store
        ledger = store.ledger(event.run_id)
        recovered = any(carried_on(a.process, a.event, b, self._kinds)
                        for a, b in pairwise(ledger))  # fmt: skip
        intents = store.intents(event.run_id)
        lines = [f"Run {run.run_id} of account {run.account_id} ({run.mode.value}) ended done "
                 f"at {event.occurred_at:%Y-%m-%d %H:%M:%S} UTC ({event.event})."]  # fmt: skip
        if recovered:
            lines.append("It was resumed by another process after its driver stopped, and "
                         "ended done: nothing was lost.")  # fmt: skip
        lines += [_order_counts(intents, run), "", "Positions after the run:",
                  *self._positions(run, intents)]  # fmt: skip
        return _mail("RECOVERED" if recovered else "SUCCESS", run, lines, event)

    def _failed(self, event: RunEvent) -> RunMail | None:
        run = self._store.get_run(event.run_id)
        failure = run.failure or {}
        if self._repeated(run):
            return None
        guard = next((g.name for e in reversed(self._store.ledger(run.run_id))
                      if not e.accepted for g in e.guards if not g.passed), "none")  # fmt: skip
        lines = [
            f"Run {run.run_id} of account {run.account_id} ({run.mode.value}) failed "
            f"at {event.occurred_at:%Y-%m-%d %H:%M:%S} UTC, by {event.actor}.",
            f"Failed in state: {failure.get('stage', '-')}",
            f"Error: {failure.get('error_type', '-')}",
            f"Guard: {guard}",
            f"Reason: {failure.get('message', '-')}",
            "",
            f"A fresh, linked run: tradefsm retry {run.run_id} --actor NAME",
        ]
        return _mail("FAILURE", run, lines, event)

    def _waiting(self, event: RunEvent, waiting: Waiting) -> RunMail:
        run = self._store.get_run(event.run_id)
        lines = [
            f"Run {run.run_id} of account {run.account_id} ({run.mode.value}) waits for a "
            f"person in {waiting.state}; a person may decide:",
            *(f"{verb.capitalize()}: {command or f'send {e} (fsm.decisions.decide)'}"
              for e, verb, command in waiting.how(run.run_id)),
            f"See the run and its plan: tradefsm runs show {run.run_id}",
        ]  # fmt: skip
        return _mail(f"WAITING FOR {waiting.what.replace('_', ' ').upper()}", run, lines, event)

    def _repeated(self, run: RunRecord) -> bool:
        """Whether an identical failure of the run's account came within the quiet period
        before this one."""
        failure = run.failure or {}
        if not self._quiet or not failure:
            return False
        earlier = self._store.list_runs(RunFilter(
            account_id=run.account_id, status=RunStatus.FAILED, until=run.created_at,
            failure_type=failure.get("error_type"), limit=20,
        ))  # fmt: skip
        start = run.updated_at - self._quiet
        return any(
            other.run_id != run.run_id and other.failure == failure
            and start <= other.updated_at <= run.updated_at
            for other in earlier
        )  # fmt: skip

    def _positions(self, run: RunRecord, intents: list[StoredIntent]) -> list[str]:
        analysed = [c.output.get("positions") for c in self._store.checkpoints(run.run_id)
                    if c.state == ANALYSIS_STATE]  # fmt: skip
        if not analysed or not isinstance(analysed[-1], dict):
            return ["  not known: the run did not read the account's positions"]
        held = {s: Decimal(str(q)) for s, q in analysed[-1].items()}
        for stored in intents:
            sign = 1 if stored.intent.side is Side.BUY else -1
            symbol = stored.intent.symbol
            held[symbol] = held.get(symbol, Decimal(0)) + sign * (stored.filled_qty or 0)
        shown = [f"  {s:<8} {q.normalize():f}" for s, q in sorted(held.items()) if q]
        return shown or ["  none"]


def _ended_failed(event: RunEvent) -> bool:
    """The event of the row that failed the run (``run.failed``, ``run.halted``, a person's
    decision such as ``run.rejected`` or ``run.cancelled``): not an order's, nor the
    ``run.resumed`` before that row."""
    return event.state == S.FAILED and event.order is None and event.kind != "run.resumed"


def _order_counts(intents: list[StoredIntent], run: RunRecord) -> str:
    if not intents and "placed" not in (run.result or {}):
        return "Orders: none placed by tradefsm."
    succeeded = sum(1 for i in intents if i.status in SUCCEEDED)
    return (f"Orders: {len(intents)} placed, {succeeded} succeeded, "
            f"{len(intents) - succeeded} did not.")  # fmt: skip


def _mail(kind: str, run: RunRecord, lines: list[str], event: RunEvent) -> RunMail:
    subject = f"tradefsm {kind}: run {run.run_id} ({run.account_id}, {run.mode.value})"
    footer = [f"Correlation id: {event.correlation_id}", f"Event: {event.id}"]
    if event.link:
        footer.append(f"Console: {event.link}")
    return RunMail(kind, subject, "\n".join([*lines, "", *footer]) + "\n")


def last_event(store: RunStore, run: RunRecord, console_url: str | None = None) -> RunEvent:
    """The event of the run's last ledger row (for a caller that drove the run itself)."""
    ledger = store.ledger(run.run_id)
    entry, previous = ledger[-1], (ledger[-2] if len(ledger) > 1 else None)
    row = CommittedRow(
        position=Position(0, run.run_id, entry.seq),  # events_of reads no position
        entry=entry, account_id=run.account_id,
        previous_process=previous.process if previous else None,
        previous_event=previous.event if previous else None,
    )  # fmt: skip
    return events_of(row, console_url)[-1]
