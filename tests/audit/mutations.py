"""A sealed history of every kind of run, built once per backend and copied per mutation, and
the edits a database administrator could make to it: one stored value changed, one row added,
one row removed (triggers and foreign keys bypassed for the edit, then restored)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Executable,
    Table,
    delete,
    insert,
    select,
    update,
)

from fsm import halts
from fsm import holds as legal_holds
from fsm.adapters.paper_broker import PaperBroker
from fsm.audit import VerifyReport
from fsm.cancels import request_cancel
from fsm.clock import FixedClock
from fsm.digests import Anchors
from fsm.errors import TradingHalted
from fsm.halts import throttle_limits
from fsm.ids import SequentialIdFactory
from fsm.keyfiles import generate_keys, load_private_key, load_public_key
from fsm.kinds import Mode
from fsm.policy import DEFAULT
from fsm.policyhistory import Proposal, approve, propose
from fsm.requests import RunRequest
from fsm.settings import Settings
from fsm.signatures import DECISIONS, sign
from persistence import append_only, constraints, grants, migrate, retention
from persistence.approvers import SqlApproverKeys
from persistence.audit import SqlAudit
from persistence.engine import make_engine
from persistence.retention import SqlHolds
from persistence.store import SqlRunStore
from persistence.tables import metadata
from tests.conftest import TRADING_DAY, make_engine_for
from tests.postgres_cluster import DUTIES


@dataclass
class SealedHistory:
    """The base database (never edited), its runs by kind, and the signed digests."""

    url: str
    runs: dict[str, str]
    anchors: Anchors
    public_key: Path
    postgres: bool = False
    auditor_url: str | None = None  # verify reads as this role (PostgreSQL: the auditor)

    def copy(self) -> str:
        """A fresh copy of the base database, as its URL; on PostgreSQL the base itself (a
        template copy costs a second there): each edit is undone after it was checked."""
        if self.postgres:
            return self.url
        base = Path(self.url.removeprefix("sqlite:///"))
        target = base.with_name(f"copy-{uuid.uuid4().hex[:8]}.db")
        with sqlite3.connect(base) as source, sqlite3.connect(target) as copy:
            source.backup(copy)  # the write-ahead log included
        copy.close()
        source.close()
        return f"sqlite:///{target}"

    def discard(self, url: str, undo: Executable) -> None:
        if self.postgres:
            bypassing(url, lambda conn: _execute(conn, undo))
        else:
            Path(url.removeprefix("sqlite:///")).unlink()

    def verify(self, url: str) -> VerifyReport:
        engine = make_engine(self.auditor_url or url, read_only=True)
        try:
            return SqlAudit(engine).verify(anchors=self.anchors)
        finally:
            engine.dispose()


def _engines(url: str, duties: dict[str, str] | None) -> dict[str, Engine]:
    """An engine per duty: one for all of them, or (PostgreSQL) each duty's least-privileged
    role, the owner having migrated and granted as docs/audit-integrity.md says."""
    if duties is None:
        engine = make_engine(url)
        migrate.upgrade(engine)
        return dict.fromkeys(DUTIES, engine)
    owner = make_engine(duties["owner"])
    migrate.upgrade(owner)
    grants.apply(owner, grants.statements(grants.Roles(*(f"tradefsm_{d}" for d in DUTIES[1:]))))
    return {duty: owner if duty == "owner" else make_engine(duties[duty]) for duty in DUTIES}


def build(url: str, folder: Path, duties: dict[str, str] | None = None) -> SealedHistory:
    """Runs of every ending — executed with orders, approved then executed, dry run, nothing
    to trade, refused by a guard, rejected, cancelled, queued then claimed, refused while
    halted — after policy changes of every kind (applied, proposed, approved), then sealed.
    With ``duties`` the runs, approvals and cancels are made as the runtime role, keys
    registered and the policy changed by the owner, the seal made by the sealer, and verify
    reads as the auditor; ``url`` (a superuser's) is the one the edits are made through."""
    engines = _engines(url, duties)
    store = SqlRunStore(engines["runtime"])
    # A policy history of every kind of row; the runs pin its last version.
    owner = SqlRunStore(engines["owner"])
    propose(owner, Proposal(None, {"max_order_qty": "900000"}, "risk-bob", "tighter"), TRADING_DAY)
    looser = propose(owner, Proposal("done", {"max_orders": 60}, "risk-bob", "more"), TRADING_DAY)
    approve(owner, looser.seq, "admin-cy", "reviewed", TRADING_DAY)

    def machine(name: str, **settings: Any) -> Any:
        broker = PaperBroker(folder / f"{name}.db")
        return make_engine_for(store, broker, FixedClock(TRADING_DAY),
                               Settings(actor="trader-ann", **settings),
                               ids=SequentialIdFactory(name))  # fmt: skip

    def run(name: str, **settings: Any) -> str:
        mode = Mode.DRY_RUN if name == "dry" else Mode.PAPER
        return str(machine(name, **settings).run(RunRequest(account_id=name, mode=mode)).run_id)

    runs = {"done": run("done"), "dry": run("dry"), "refused": run("refused", max_orders=2),
            "no_trade": run("no_trade", drift_threshold=Decimal(1))}  # fmt: skip
    approvers = SqlApproverKeys(engines["runtime"])
    signing, _ = generate_keys(folder / "bob")
    bob = load_private_key(signing)
    for key in (bob, Ed25519PrivateKey.generate()):  # two rows: the first is not the head
        SqlApproverKeys(engines["owner"]).add("risk-bob", key.public_key(), "admin-cy", TRADING_DAY)
    for name in ("approved", "rejected", "cancelled"):
        fsm = machine(name, approval_notional=1000)
        fsm.approvers = approvers
        parked = fsm.run(RunRequest(account_id=name)).run_id
        reason = f"{name} after review"
        if name == "cancelled":  # asked first, as of a live holder: the cancel commits to it
            request_cancel(store, store.get_run(parked), "risk-bob", reason, "ops", TRADING_DAY)
            fsm.cancel(parked, actor="risk-bob", reason=reason)
        else:  # a signed decision
            signed = sign(bob, store.ledger(parked), DECISIONS[name], "risk-bob", reason,
                          TRADING_DAY)  # fmt: skip
            decide = fsm.approve if name == "approved" else fsm.reject
            decide(parked, actor="risk-bob", reason=reason, signature=signed)
        runs[name] = str(parked)
    queue = machine("queued")
    runs["queued"] = str(queue.submit(RunRequest(account_id="queued")).run_id)
    queue.claim()
    runs["halted"] = _refused_while_halted(store, machine("halted"))
    runs["archived"] = run("archived")
    private, public = generate_keys(folder / "keys")
    SqlAudit(engines["sealer"]).seal(load_private_key(private), TRADING_DAY, folder / "digests")
    _archive_one(engines["owner"], folder, load_public_key(public))
    SqlAudit(engines["sealer"]).seal(load_private_key(private), TRADING_DAY, folder / "digests")
    for engine in set(engines.values()):
        engine.dispose()
    anchors = Anchors(folder / "digests", (load_public_key(public),))
    return SealedHistory(url, runs, anchors, public, postgres=url.startswith("postgresql"),
                         auditor_url=duties and duties["auditor"])  # fmt: skip


def _refused_while_halted(store: SqlRunStore, engine: Any) -> str:
    """A run refused while its account was halted (its failing row commits to the halts
    history), then the halt lifted by another person: two rows in the halts chain."""
    halts.halt(store, "halted", "ops-ann", "desk says stop", "ops", TRADING_DAY)
    try:
        engine.run(RunRequest(account_id="halted"))
    except TradingHalted as refused:
        run_id = str(refused.run_id)
    halts.unhalt(store, "halted", "risk-bob", "checked", "ops", TRADING_DAY,
                 throttle_limits(DEFAULT))  # fmt: skip
    return run_id


def _archive_one(owner: Engine, folder: Path, key: Any) -> None:
    """A legal hold on the account ``done`` (two rows: one released), and the run of the
    account ``archived`` archived by the owner: a row in each of the holds and tombstones."""
    holds = SqlHolds(owner)
    for action in ("hold", "release", "hold"):
        legal_holds.change(holds, action, None, "done", "legal-lee", "subpoena", "ops",
                           TRADING_DAY)  # fmt: skip
    chosen = [c for c in retention.plan(owner, TRADING_DAY + timedelta(days=1))
              if c.account_id == "archived"]  # fmt: skip
    retention.apply(owner, chosen, folder / "archive", [key], ("ops-ann", "retention", "ops"),
                    TRADING_DAY, lambda *_: None)  # fmt: skip


CHANGES: list[tuple[type, Callable[[Any], Any]]] = [
    (bool, lambda v: not v),
    (int, lambda v: v + 1000),
    (Decimal, lambda v: v + 1),
    (datetime, lambda v: v + timedelta(seconds=1)),
    (date, lambda v: v + timedelta(days=1)),
    (dict, lambda v: v | {"tampered": "1"}),
    (list, lambda v: [*v, "tampered"]),
    (str, lambda v: v[:-1] + ("1" if v[-1:] == "0" else "0")),  # the same length
]


def changed(column: Column[Any], value: Any) -> Any:
    """Another value of the column's type."""
    if value is None:
        return filler(column)
    return next(change for kind, change in CHANGES if isinstance(value, kind))(value)


def filler(column: Column[Any]) -> Any:
    python = column.type.python_type if hasattr(column.type, "impl") else None
    try:
        python = python or column.type.python_type
    except NotImplementedError:
        python = dict
    return {str: "x", int: 1, Decimal: Decimal(1), datetime: TRADING_DAY, date: TRADING_DAY.date(),
            bool: True}.get(python, {"tampered": "1"})  # fmt: skip


@dataclass(frozen=True)
class Victim:
    """One stored row: its table, its primary key, its values."""

    table: Table
    row: dict[str, Any]

    @property
    def where(self) -> list[Any]:
        return [c == self.row[c.name] for c in self.table.primary_key.columns]

    @property
    def run_id(self) -> str | None:
        return self.row.get("run_id")


def victim(
    conn: Connection, table: Table, runs: list[str], column: str | None = None, **where: Any
) -> Victim:
    """A row of ``table`` (with the ``where`` values), of the first of ``runs`` that has one
    with ``column`` set."""
    chosen = select(table).where(*(table.c[k] == v for k, v in where.items()))
    rows = [dict(r) for r in conn.execute(chosen).mappings()]
    rank = {run_id: n for n, run_id in enumerate(runs)}

    def preference(row: dict[str, Any]) -> tuple[int, int]:
        unset = column is not None and row[column] is None
        return (unset, rank.get(row.get("run_id", ""), len(rank)))

    return Victim(table, min(rows, key=preference))


Edit = Callable[[Connection, Victim], tuple[str | None, Executable]]  # other run id, undo


def change(column: str) -> Edit:
    def edit(conn: Connection, v: Victim) -> tuple[str | None, Executable]:
        value = changed(v.table.c[column], v.row[column])
        conn.execute(update(v.table).where(*v.where).values({column: value}))
        moved = Victim(v.table, v.row | {column: value})
        undo = update(v.table).where(*moved.where).values({column: v.row[column]})
        return (value if column == "run_id" else None), undo

    return edit


def add_row(conn: Connection, v: Victim) -> tuple[str | None, Executable]:
    """A copy of the row under another primary key (a run copied has no idempotency key)."""
    last = list(v.table.primary_key.columns)[-1]
    row = v.row | {last.name: changed(last, v.row[last.name])}
    for column in v.table.columns:  # another value where one must be unique (a key's print)
        if column.unique and not column.primary_key:
            row[column.name] = changed(column, row[column.name])
    if "idempotency_key" in row:
        row["idempotency_key"] = None
    conn.execute(insert(v.table), [row])
    return row.get("run_id"), delete(v.table).where(*Victim(v.table, row).where)


def remove_row(conn: Connection, v: Victim) -> tuple[str | None, Executable]:
    conn.execute(delete(v.table).where(*v.where))
    return None, insert(v.table).values(v.row)


def tamper(url: str, runs: list[str], table: str, edit: Edit, column: str | None,
           **where: Any) -> tuple[Victim, str | None, Executable]:  # fmt: skip
    """Apply ``edit`` to one row as an administrator would: triggers and foreign keys off for
    the edit, back on after it. Returns the row edited, any other run id the edit involves,
    and the statement that undoes it (``bypassing``)."""
    found: list[Any] = []

    def apply(conn: Connection) -> None:
        v = victim(conn, metadata.tables[table], runs, column, **where)
        found.extend((v, *edit(conn, v)))

    bypassing(url, apply)
    return found[0], found[1], found[2]


def bypassing(url: str, work: Callable[[Connection], None]) -> None:
    """Run ``work`` in one transaction with triggers and foreign key checks off."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:  # outside any transaction, where SQLite honours it
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            with conn.begin():
                triggers = _without_triggers(conn) if sqlite else _bypass(conn)
                work(conn)
                for sql in triggers:
                    conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _execute(conn: Connection, statement: Executable) -> None:
    conn.execute(statement)


def _without_triggers(conn: Connection) -> list[str]:
    triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    found = list(triggers)
    for name, _ in found:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in found]


def _bypass(conn: Connection) -> list[str]:
    """PostgreSQL: foreign keys off (replica mode) and the append-only triggers, which fire
    even in replica mode (ENABLE ALWAYS), disabled; the statements that put them back."""
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    back = []
    for table, name in append_only.expected("postgresql") | constraints.expected("postgresql"):
        conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        back.append(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    return back
