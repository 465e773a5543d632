"""Verification of the whole run database: streamed, split across processes when large.

Each run's ledger, checkpoints and order intents are read in run order (one cursor per table)
and checked by ``fsm.integrity``; definitions are hashed again; with signed digests, every
sealed run head is looked up. A large database is cut into spans of runs which this process
and spawned ones share (``persistence.sharing``) with the whole-database checks. A stored
value that cannot be decoded is an ``unreadable`` finding for its run
(``persistence.lenient``); the other runs are still verified.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from fsm.audit import Finding, FindingKind, VerifyReport
from fsm.commitments import INTENT_FIELDS
from fsm.errors import RunNotFound
from fsm.integrity import RunRecords, SchemeMarks, check_run
from fsm.intentchecks import VIEW_FIELDS, IntentHistory
from persistence import approvers, halts, policybook, retentionlog
from persistence.engine import make_engine
from persistence.hotpath import DriverStatement
from persistence.lenient import (
    DECODE_ERRORS,
    OTHER_TEXT,
    Unreadable,
    canonical_time,
    fetch,
    fetch_batches,
    sqlite_time,
)
from persistence.sharing import collector_paused, share, usable_cores
from persistence.tables import (
    ENTRY_COLUMNS,
    cancel_requests,
    checkpoints,
    intent_events,
    ledger,
    order_intents,
    runs,
)
from persistence.wholedb import Sealed, definition_findings, deleted_runs

PARALLEL_MIN_RUNS = 20_000  # below this, starting processes costs more than it saves
SPAN_RUNS = 5_000  # runs per task: small enough that the processes end close together
PROBLEMS = {"unreadable": "a stored value cannot be decoded",
            "not_canonical": "a stored time is not in the canonical UTC form"}  # fmt: skip
_RUN_COLUMNS = [
    runs.c[name] for name in (
        "run_id", "correlation_id", "idempotency_key", "account_id", "mode", "as_of", "state",
        "status", "version", "parent_run_id", "definition_hash", "params", "result", "failure",
        "head_hash", "created_at", "updated_at", "deadline_at",
    )
]  # fmt: skip
_RUN_DOCUMENTS = ("params", "result", "failure")
_RUN_TIMES = ("created_at", "updated_at", "deadline_at")
_EVENT_COLUMNS = [intent_events.c[name] for name in (
    "n", "run_id", "status", "broker_order_id", "filled_qty", "avg_price", "recorded_at",
    "prev_hash", "hash")]  # fmt: skip
_INTENT_COLUMNS = [
    order_intents.c[name] for name in (*INTENT_FIELDS, "status", *VIEW_FIELDS, "updated_at")
]
_VIEW_KEYS = [c.name for c in _INTENT_COLUMNS]
_EVENT_KEYS = [(f"e_{c.name}", c.name) for c in _EVENT_COLUMNS]


@dataclass(frozen=True)
class Span:
    """Runs with ``lo <= run_id < hi`` (open ends when None), or exactly ``run_id``."""

    lo: str | None = None
    hi: str | None = None
    run_id: str | None = None

    def where(self, column: Any) -> list[Any]:
        if self.run_id is not None:
            return [column == bindparam("run_id")]
        out = []
        if self.lo is not None:
            out.append(column >= bindparam("lo"))
        if self.hi is not None:
            out.append(column < bindparam("hi"))
        return out

    def params(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "lo": self.lo, "hi": self.hi}


def verify(
    engine: Engine,
    run_id: str | None = None,
    workers: int | None = None,
    sealed: Sealed | None = None,
) -> VerifyReport:
    """Verify one run or all; ``sealed`` holds run heads from signed digests."""
    sealed = sealed or {}
    if run_id is not None:
        report, marks = verify_span(engine, Span(run_id=run_id), sealed)
        if report.runs == 0 and not report.findings:
            return _archived_run(engine, run_id)
        return _with(report, definition_findings(engine, run_id) + _started_late(engine, marks)
                     + approvers.findings(engine, run_id)
                     + policybook.findings(engine, run_id))  # fmt: skip
    workers = workers or usable_cores()
    spans = _spans(engine, workers)
    url = engine.url.render_as_string(hide_password=False)
    tasks: list[Task] = [*spans, *WHOLE_DATABASE]
    parts = share(tasks, lambda task: _task(engine, task, sealed),
                  _task_elsewhere, workers if len(spans) > 1 else 1,
                  (_start_worker, (url, sealed)))  # fmt: skip
    marks = SchemeMarks()
    for _, part in parts:
        marks.merge(part)
    runs_part = [p for p, _ in parts[: len(spans)]]
    report = VerifyReport(
        runs=sum(p.runs for p in runs_part),
        rows=sum(p.rows for p in runs_part),
        findings=[f for p in runs_part for f in p.findings],
        legacy_runs=sum(p.legacy_runs for p in runs_part),
    )
    whole = [f for p, _ in parts[len(spans) :] for f in p.findings]
    report.archived.update((t.run_id, t.bundle_hash) for t in retentionlog.archived(engine))
    return _with(report, marks.findings() + whole)


def _archived_run(engine: Engine, run_id: str) -> VerifyReport:
    """A run gone from the database: archived (its tombstone chain checked), or not found."""
    stone = next((t for t in retentionlog.archived(engine) if t.run_id == run_id), None)
    if stone is None:
        raise RunNotFound(f"no run {run_id!r} in the database", run_id=run_id)
    found = [f for f in retentionlog.findings(engine) if f.run_id in (run_id, None)]
    return VerifyReport(runs=0, rows=0, findings=found, archived={run_id: stone.bundle_hash})


def _with(report: VerifyReport, findings: list[Finding]) -> VerifyReport:
    return replace(report, findings=report.findings + findings)


# The checks of the whole database beside the runs' own, in the order their findings are
# reported; each is one task, shared between the processes like the spans of runs.
WHOLE_DATABASE = ("definitions", "deleted_runs", "approvers", "halts", "policy", "retention")
Task = Span | str
_worker: dict[str, Any] = {}  # in a spawned worker: its engine and the sealed heads


def _task(engine: Engine, task: Task, sealed: Sealed) -> tuple[VerifyReport, SchemeMarks]:
    if isinstance(task, Span):
        return verify_span(engine, task, sealed)
    checks: dict[str, Any] = {
        "definitions": definition_findings,
        "deleted_runs": lambda e: deleted_runs(e, sealed),
        "approvers": approvers.findings,
        "halts": halts.findings,
        "policy": policybook.findings,
        "retention": retentionlog.findings,
    }
    return VerifyReport(runs=0, rows=0, findings=checks[task](engine)), SchemeMarks()


def _start_worker(url: str, sealed: Sealed) -> None:
    _worker.update(engine=make_engine(url, read_only=True), sealed=sealed)


def _task_elsewhere(task: Task) -> tuple[VerifyReport, SchemeMarks]:
    return _task(_worker["engine"], task, _worker["sealed"])


def _spans(engine: Engine, workers: int) -> list[Span]:
    """Spans of about ``SPAN_RUNS`` runs (at least one per process), cut where the database
    orders run ids; one span when the runs are too few to be worth several processes."""
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        if workers < 2 or count < PARALLEL_MIN_RUNS:
            return [Span()]
        step = max(1, count // max(workers, count // SPAN_RUNS))
        numbered = select(
            runs.c.run_id, func.row_number().over(order_by=runs.c.run_id).label("k")
        ).subquery()
        cuts = conn.execute(
            select(numbered.c.run_id)
            .where(numbered.c.k > 1, (numbered.c.k - 1) % step == 0)
            .order_by(numbered.c.run_id)
        ).scalars().all()  # fmt: skip
    bounds = [None, *cuts, None]
    return [Span(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def _started_late(engine: Engine, marks: SchemeMarks) -> list[Finding]:
    """For one run: whether a row of a newer scheme than its first was written before it."""
    for _, first, started in marks.older:
        try:
            values = {"first": first, "started": datetime.fromisoformat(started)}
        except ValueError:
            continue  # its time is named unreadable
        stmt = select(func.min(ledger.c.occurred_at)).where(
            ledger.c.scheme > bindparam("first"), ledger.c.occurred_at < bindparam("started")
        )
        statement = DriverStatement(stmt, engine.dialect)
        for (at,) in fetch(engine, statement, values):
            if at is not None:
                marks.epochs[first + 1] = canonical_time(at)
    return marks.findings()


@dataclass
class Unreadables:
    """Stored values that could not be decoded, or are not in their one stored form, by run."""

    by_run: dict[str, list[tuple[FindingKind, str]]] = field(default_factory=dict)

    def note(self, row: Mapping[str, Any], name: str, value: Any,
             kind: FindingKind = "unreadable") -> None:  # fmt: skip
        self.by_run.setdefault(str(row["run_id"]), []).append((kind, f"{name} = {value!r}"))

    def findings(self, run_id: str) -> list[Finding]:
        return [
            Finding(kind, run_id, f"{PROBLEMS[kind]}: {what}")
            for kind, what in self.by_run.pop(run_id, [])
        ]


def verify_span(engine: Engine, span: Span, sealed: Sealed) -> tuple[VerifyReport, SchemeMarks]:
    """The report on the runs of ``span``, and their scheme marks (``SchemeMarks``)."""
    bad = Unreadables()
    findings: list[Finding] = []
    marks, runs_seen, rows, legacy = SchemeMarks(), 0, 0, 0
    halted = halts.hashes(engine)
    with collector_paused():
        for records in span_records(engine, span, bad):
            found, was_legacy = _check(records, sealed.get(records.run_id), marks)
            findings += bad.findings(records.run_id) + found
            findings += halts.committed_findings(records.run_id, records.ledger, halted)
            runs_seen += records.run is not None
            rows += len(records.ledger)
            legacy += was_legacy
    report = VerifyReport(runs=runs_seen, rows=rows, findings=findings, legacy_runs=legacy)
    return report, marks


def span_records(engine: Engine, span: Span, bad: Unreadables) -> Iterator[RunRecords]:
    """The records of each run of ``span`` as stored (times as canonical text), in run order;
    ledger rows without a run row come as records whose ``run`` is None."""
    order: dict[str, int] = {}
    run_rows: list[dict[str, Any]] = []
    stmt = select(*_RUN_COLUMNS).order_by(runs.c.run_id)
    for row in _rows(engine, stmt, span, runs, bad, _RUN_TIMES, _RUN_DOCUMENTS):
        order[row["run_id"]] = len(run_rows)
        run_rows.append(row)
    streams = [
        _groups(_ledger_rows(engine, span, bad), order),
        _groups(_checkpoint_rows(engine, span, bad), order),
        _groups(_intent_rows(engine, span, bad), order),
        _groups(_cancel_rows(engine, span, bad), order),
    ]
    for position, (chain, cps, intents, cancels) in _merge(len(run_rows), streams):
        run = run_rows[position] if position >= 0 else None
        run_id = run["run_id"] if run else chain[0]["run_id"]
        yield RunRecords(run_id, run, chain, cps, _histories(intents), cancels)


def _check(
    records: RunRecords, sealed: tuple[int, str] | None, marks: SchemeMarks
) -> tuple[list[Finding], bool]:
    """``check_run``; a value it cannot work with is a finding for this run only."""
    try:
        return check_run(records, sealed, marks)
    except (*DECODE_ERRORS, ArithmeticError, LookupError) as exc:
        problem = f"a stored value cannot be checked: {type(exc).__name__}: {exc}"
        return [Finding("unreadable", records.run_id, problem[:300])], False


def _merge(
    count: int, streams: list[Iterator[tuple[int, list[dict[str, Any]]]]]
) -> Iterator[tuple[int, list[list[dict[str, Any]]]]]:
    """Per run position: its rows of each stream (the ledger first). Position -1: ledger rows
    without a run row."""
    nothing: list[list[dict[str, Any]]] = [[] for _ in streams[1:]]
    end: tuple[int, list[dict[str, Any]]] = (count, [])  # after every run's position
    heads = [next(s, end) for s in streams]
    for position in range(count):
        groups: list[list[dict[str, Any]]] = []
        for k, stream in enumerate(streams):
            head = heads[k]
            while head[0] < position:
                if k == 0:
                    yield -1, [head[1], *nothing]
                head = next(stream, end)
            if head[0] == position:
                groups.append(head[1])
                head = next(stream, end)
            else:
                groups.append([])
            heads[k] = head
        yield position, groups
    for rest in itertools.chain([heads[0]] if heads[0] is not end else [], streams[0]):
        yield -1, [rest[1], *nothing]


def _groups(
    rows: Iterator[dict[str, Any]], order: dict[str, int]
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Consecutive rows of one run, with the run's position (-1 when it has no run row)."""
    for run_id, group in itertools.groupby(rows, key=itemgetter("run_id")):
        yield order.get(run_id, -1), list(group)


def _ledger_rows(engine: Engine, span: Span, bad: Unreadables) -> Iterator[dict[str, Any]]:
    stmt = select(*ENTRY_COLUMNS).order_by(ledger.c.run_id, ledger.c.seq)
    return _rows(engine, stmt, span, ledger, bad, ("occurred_at",), ("guards", "commits"))


def _checkpoint_rows(engine: Engine, span: Span, bad: Unreadables) -> Iterator[dict[str, Any]]:
    return _rows(engine, select(checkpoints).order_by(checkpoints.c.run_id, checkpoints.c.seq),
                 span, checkpoints, bad, ("recorded_at",), ("output",))  # fmt: skip


def _cancel_rows(engine: Engine, span: Span, bad: Unreadables) -> Iterator[dict[str, Any]]:
    stmt = select(cancel_requests).order_by(cancel_requests.c.run_id, cancel_requests.c.n)
    return _rows(engine, stmt, span, cancel_requests, bad, ("requested_at",))


def _intent_rows(engine: Engine, span: Span, bad: Unreadables) -> Iterator[dict[str, Any]]:
    """Each intent with its events (none: one row whose event columns are NULL)."""
    stmt = (
        select(*_INTENT_COLUMNS, *(c.label(f"e_{c.name}") for c in _EVENT_COLUMNS))
        .outerjoin(
            intent_events, intent_events.c.client_order_id == order_intents.c.client_order_id
        )
        .order_by(order_intents.c.run_id, order_intents.c.position, intent_events.c.n)
    )
    return _rows(engine, stmt, span, order_intents, bad, ("updated_at", "e_recorded_at"))


def _histories(rows: list[dict[str, Any]]) -> list[IntentHistory]:
    histories: list[IntentHistory] = []
    for _coid, group in itertools.groupby(rows, key=itemgetter("client_order_id")):
        events = list(group)
        view = {k: events[0][k] for k in _VIEW_KEYS}
        own = [{k: e[label] for label, k in _EVENT_KEYS} for e in events if e["e_n"] is not None]
        histories.append(IntentHistory(view, own))
    return histories


def _rows(
    engine: Engine,
    stmt: Any,
    span: Span,
    table: Any,
    bad: Unreadables,
    times: tuple[str, ...] = (),
    documents: tuple[str, ...] = (),
) -> Iterator[dict[str, Any]]:
    """Rows as dicts, with the ``times`` columns in canonical text; what cannot be decoded
    (a time, or on PostgreSQL a JSON ``documents`` column) is noted in ``bad``."""
    sqlite = engine.dialect.name == "sqlite"
    if sqlite and times:  # SQLite turns its stored times into canonical text itself
        stmt = stmt.with_only_columns(
            *(sqlite_time(c) if c.name in times else c for c in stmt.selected_columns)
        )
    statement = DriverStatement(stmt.where(*span.where(table.c.run_id)), engine.dialect)
    columns = statement.columns
    documents = () if sqlite else documents
    for values in itertools.chain.from_iterable(fetch_batches(engine, statement, span.params())):
        row = dict(zip(columns, values))  # noqa: B905  (the columns are the statement's own)
        for name in times:
            at = row[name]
            if at is None or (sqlite and type(at) is str and at[:1] != OTHER_TEXT):
                continue  # NULL, or canonical text from the one stored form
            if sqlite and type(at) is str:  # another form: hashed as the instant readers show
                row[name] = at = at[1:]
                bad.note(row, name, at, "not_canonical")
            _time(row, name, bad)
        for name in documents:
            if isinstance(row[name], Unreadable):
                bad.note(row, name, row[name])
        yield row


def _time(row: dict[str, Any], name: str, bad: Unreadables) -> None:
    try:
        row[name] = canonical_time(row[name])
    except DECODE_ERRORS:
        bad.note(row, name, row[name])
        row[name] = Unreadable(str(row[name]))
