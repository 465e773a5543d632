"""Hash-chain verification of the whole ledger: streamed, split across processes when large."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from fsm.audit import Finding, VerifyReport
from fsm.ledger import first_broken_link, utc_text
from persistence.engine import make_engine
from persistence.hotpath import DriverStatement
from persistence.tables import ledger, runs

LEDGER_COLUMNS = [c.name for c in ledger.columns]
BATCH = 5000
PARALLEL_MIN_RUNS = 20_000  # below this, starting processes costs more than it saves


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


def verify(engine: Engine, run_id: str | None = None, workers: int | None = None) -> VerifyReport:
    if run_id is not None:
        return verify_span(engine, Span(run_id=run_id))
    spans = _spans(engine, workers or os.cpu_count() or 1)
    if len(spans) == 1:
        return verify_span(engine, spans[0])
    url = engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")  # no inherited connections in the workers
    with ProcessPoolExecutor(len(spans), mp_context=spawn) as pool:
        parts = list(pool.map(_verify_elsewhere, [url] * len(spans), spans))
    return VerifyReport(
        runs=sum(p.runs for p in parts),
        rows=sum(p.rows for p in parts),
        findings=[f for p in parts for f in p.findings],
    )


def _verify_elsewhere(url: str, span: Span) -> VerifyReport:
    engine = make_engine(url)
    try:
        return verify_span(engine, span)
    finally:
        engine.dispose()


def _spans(engine: Engine, workers: int) -> list[Span]:
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(runs)).scalar_one()
        if workers < 2 or count < PARALLEL_MIN_RUNS:
            return [Span()]
        cuts = [
            conn.execute(
                select(runs.c.run_id).order_by(runs.c.run_id).offset(count * k // workers).limit(1)
            ).scalar_one()
            for k in range(1, workers)
        ]
    bounds = [None, *cuts, None]
    return [Span(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def verify_span(engine: Engine, span: Span) -> VerifyReport:
    heads = dict(
        _fetch(
            engine, select(runs.c.run_id, runs.c.head_hash).where(*span.where(runs.c.run_id)), span
        )
    )
    findings: list[Finding] = []
    rows = chains = 0
    for run_id, chain in _chains(engine, span):
        rows, chains = rows + len(chain), chains + 1
        broken = first_broken_link(chain, heads.pop(run_id, None))
        if broken is not None:
            findings.append(Finding(run_id, broken, _problem(chain, broken)))
    findings += [Finding(run_id, 1, "run has no ledger rows") for run_id in heads]
    return VerifyReport(runs=chains + len(heads), rows=rows, findings=findings)


def _fetch(engine: Engine, stmt: Any, span: Span) -> Iterator[tuple[Any, ...]]:
    return fetch(engine, DriverStatement(stmt, engine.dialect), span.params())


def fetch(
    engine: Engine, statement: DriverStatement, values: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """Rows of a query straight from a DB-API cursor, in batches."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(statement.sql, statement.params(values))
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        raw.close()


def _chains(engine: Engine, span: Span) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each run's rows in stored order."""
    stmt = (
        select(ledger).where(*span.where(ledger.c.run_id)).order_by(ledger.c.run_id, ledger.c.seq)
    )
    current, chain = "", list[dict[str, Any]]()
    for values in _fetch(engine, stmt, span):
        row = dict(zip(LEDGER_COLUMNS, values, strict=True))
        row["occurred_at"] = canonical_time(row["occurred_at"])
        if row["run_id"] != current and chain:
            yield current, chain
            chain = []
        current = row["run_id"]
        chain.append(row)
    if chain:
        yield current, chain


def canonical_time(value: Any) -> str:
    """The canonical text of a stored timestamp; SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' UTC."""
    if isinstance(value, datetime):
        return utc_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    text = str(value)
    if len(text) == 26 and text[10] == " ":
        return f"{text[:10]}T{text[11:]}Z"
    return utc_text(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _problem(chain: list[dict[str, Any]], seq: int) -> str:
    if seq > len(chain):
        return f"rows after seq {len(chain)} are missing: the run's head hash does not match"
    positions = [int(r["seq"]) for r in chain]
    if seq not in positions or positions.index(seq) != seq - 1:
        return "rows are missing, inserted or out of order here"
    return "row content or its link to the previous row does not match its hash"
