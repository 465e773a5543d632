"""The halts history in the SQL run store (``fsm.halts``): appended, read, obeyed before every
order and by every claim, and its part of `audit verify`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError

from fsm import halts as halting
from fsm.audit import Finding
from fsm.errors import ConcurrentModification, TradingHalted
from fsm.halts import Halt
from fsm.machines.names import TradingState as S
from persistence.errors import translate_errors
from persistence.hotpath import HeldConnections, read_rows, read_tuples
from persistence.lenient import DECODE_ERRORS
from persistence.tables import halts, runs

_later = halts.alias("later")
_HALTED = TradingHalted.__name__  # the error type of a row that failed a run for a halt


def halted(account_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether a halt is in force for ``account_id``: the latest row of its own scope or of
    the every-account scope is a halt."""
    return exists().where(
        halts.c.action == "halt",
        or_(halts.c.account_id.is_(None), halts.c.account_id == account_id),
        ~exists().where(
            _later.c.seq > halts.c.seq,
            _later.c.account_id.is_not_distinct_from(halts.c.account_id),
        ),
    )


class HaltsHistory:
    """The halts part of the SQL run store (``SqlRunStore`` is one)."""

    engine: Engine
    _held: HeldConnections | None

    def record_halt(self, halt: Halt) -> None:
        with translate_errors(), self.engine.begin() as conn:
            try:
                conn.execute(insert(halts), [halt.model_dump()])
            except IntegrityError as exc:
                raise ConcurrentModification(
                    f"halt {halt.seq} was recorded by another process at the same time; "
                    "nothing was written: look again (`tradefsm runs list` shows halts)"
                ) from exc

    def halts(self) -> list[Halt]:
        stmt = select(halts).order_by(halts.c.seq)
        return [Halt.model_validate(row) for row in read_rows(self.engine, stmt, self._held)]

    @staticmethod
    def _obey_halt(conn: Connection, run_id: str) -> None:
        """Raise TradingHalted when the run's account is halted (its holder stands down)."""
        account = select(runs.c.account_id).where(runs.c.run_id == run_id).scalar_subquery()
        if conn.execute(select(halted(account))).scalar():
            rows = _rows(conn)
            account_id = conn.execute(select(account)).scalar_one()
            raise halting.halted_error(halting.in_force(rows, account_id), "the next order",
                                       rows[-1].hash, run_id=run_id, state=S.EXECUTING)  # fmt: skip


def _rows(conn: Connection) -> list[Halt]:
    rows = conn.execute(select(halts).order_by(halts.c.seq)).mappings()
    return [Halt.model_validate(dict(r)) for r in rows]


def findings(engine: Engine) -> list[Finding]:
    """The halts chain, recomputed. That each row failing a run for a halt commits to a row of
    it is checked with the run's other records (``committed_findings``)."""
    with translate_errors(), engine.connect() as conn:
        return halting.findings(_rows(conn))


def hashes(engine: Engine) -> frozenset[str]:
    """The hash of every row of the halts history."""
    return frozenset(str(h) for (h,) in read_tuples(engine, select(halts.c.hash)))


def committed_findings(run_id: str, rows: Sequence[Mapping[str, Any]],
                       known: frozenset[str]) -> list[Finding]:  # fmt: skip
    """Each of a run's ledger rows that failed it for a halt must commit to a row of the halts
    history (``known``: their hashes), so a cut-off tail of that history is found too."""
    return [
        Finding("halts_changed", run_id, "the halts history this row commits to is not in "
                "the database (rows removed or rewritten)", seq=int(row["seq"]),
                key=f"halt head {head}")
        for row in rows
        if row["error_type"] == _HALTED and (head := _head(row["commits"])) not in known
    ]  # fmt: skip


def _head(commits: Any) -> Any:
    """The halts head a row's commits name (stored canonical JSON text, or a document)."""
    if isinstance(commits, str):
        try:
            commits = json.loads(commits)
        except DECODE_ERRORS:
            return None
    return commits.get(halting.COMMIT_KEY) if isinstance(commits, dict) else None


def head(conn: Connection) -> tuple[int, str] | None:
    """The newest row of the halts history as (seq, hash), for the next digest to sign."""
    stmt = select(halts.c.seq, halts.c.hash).order_by(halts.c.seq.desc()).limit(1)
    row = conn.execute(stmt).first()
    return None if row is None else (int(row[0]), str(row[1]))


def anchored_findings(engine: Engine, signed: tuple[int, str] | None) -> list[Finding]:
    """The halts row the newest signed digest sealed must be in the database, unchanged: a
    removed tail of the history is found even when no run committed to it."""
    if signed is None:
        return []
    seq, hash_ = signed
    with translate_errors(), engine.connect() as conn:
        stored = conn.execute(select(halts.c.hash).where(halts.c.seq == seq)).scalar()
    if stored == hash_:
        return []
    problem = "is gone" if stored is None else "is not the row it sealed"
    return [Finding("halts_changed", None, f"the newest signed digest sealed the halts history "
                    f"up to halt {seq}; that row {problem} (rows removed or rewritten)",
                    key=f"halt {seq}")]  # fmt: skip
