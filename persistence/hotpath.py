"""The per-transition write path at the DB-API level.

SQLAlchemy Core builds and compiles each statement once per dialect; executing it through a
pooled DB-API connection skips the per-call statement machinery (cache keys, result
objects, events), which costs about as much as the durable commit itself on SQLite. Values
are stored exactly as Core would store them: timestamps and JSON documents go through one
function each that does what their SQLAlchemy processors do together (tests compare the
two), every other type through its SQLAlchemy bind processor; driver errors are translated
at the same boundary. A ``JsonText`` value is canonical JSON encoded already (the ledger
hashed it): it is written as it is instead of being encoded a second time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Engine, Select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from fsm.canonical import canonical_json
from persistence.engine import SQLITE_FLUSHED, SQLITE_UNFLUSHED
from persistence.errors import translate
from persistence.types import JsonDocumentType, UtcDateTime

Processor = Callable[[Any], Any]


class JsonText(str):
    """Canonical JSON text (``fsm.canonical``) of a document: bound as it is."""


def processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """What turns a value of ``type_`` into what the DB-API driver takes."""
    if isinstance(type_, UtcDateTime):
        return UtcDateTime.driver_processor(dialect)
    impl = type_.dialect_impl(dialect)
    if not isinstance(impl, JSON) and not isinstance(impl, JsonDocumentType):
        return impl.bind_processor(dialect)
    if dialect.name != "postgresql":  # stored as text, in the engine's canonical form

        def text(value: Any) -> str | None:
            if value is None:
                return None
            return value if type(value) is JsonText else canonical_json(value)

        return text
    from psycopg.types.json import Json, Jsonb  # noqa: PLC0415  # only where PostgreSQL is used

    base = impl.impl_instance if isinstance(impl, JsonDocumentType) else impl
    wrap = Jsonb if base.__visit_name__ == "JSONB" else Json

    def document(value: Any) -> Any:
        if value is None:
            return None
        return wrap(value, dumps=str) if type(value) is JsonText else wrap(value)

    return document


def _one(names: list[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    return lambda values: tuple(values[n] for n in names)  # none or one parameter


class DriverStatement:
    """A Core statement compiled once for a dialect, with the bind processors of its params."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler), "a DML statement compiles with SQLCompiler"
        self.sql = str(compiled)
        self.positional = bool(dialect.positional)
        binds = {name: bind for bind, name in compiled.bind_names.items()}  # as rendered
        self.names = list(compiled.positiontup or []) if self.positional else list(binds)
        self.defaults: dict[str, Any] = dict(compiled.params)  # values written into the query
        selected = list(getattr(statement, "selected_columns", []))
        self.columns = [c.name for c in selected]
        self.decoders = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                         for c in selected]  # fmt: skip
        processors = {name: processor(binds[name].type, dialect) for name in set(self.names)}
        # The values are taken in the driver's order in one C call; only those of a type
        # with a processor (a few per statement) are converted in Python.
        self._take = itemgetter(*self.names) if len(self.names) > 1 else _one(self.names)
        self._convert = [(i, p) for i, n in enumerate(self.names) if (p := processors[n])]

    def params(self, values: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        row = list(self._take(values))
        for i, convert in self._convert:
            row[i] = convert(row[i])
        return row if self.positional else dict(zip(self.names, row, strict=True))

    def decoded(self, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """A SELECT's rows as dicts of the values Core would return."""
        pairs = list(zip(self.columns, self.decoders, strict=True))
        return [{name: decode(value) if decode else value
                 for (name, decode), value in zip(pairs, row, strict=True)}
                for row in rows]  # fmt: skip


class DriverTransaction:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, statement: DriverStatement, values: Mapping[str, Any]) -> int:
        """Run one statement; the number of rows it changed."""
        self.cursor.execute(statement.sql, statement.params(values))
        return int(self.cursor.rowcount)

    def rows(self, statement: DriverStatement, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A SELECT's rows, decoded, read inside this transaction."""
        self.cursor.execute(statement.sql, statement.params(statement.defaults | dict(values)))
        return statement.decoded(self.cursor.fetchall())


class HeldConnections:
    """One DB-API connection per thread, kept checked out for the per-transition writes.

    Checking a connection out of the pool and back for every transition costs about half as
    much as the durable commit itself; a connection that failed is dropped and replaced.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    def get(self) -> Any:
        raw = getattr(self._local, "raw", None)
        if raw is None:
            raw = self._local.raw = self.engine.raw_connection()
        return raw

    def discard(self) -> None:
        raw = getattr(self._local, "raw", None)
        self._local.raw = None
        if raw is not None:
            raw.invalidate()  # never handed out again by the pool


@contextmanager
def driver_transaction(
    engine: Engine,
    run_id: str | None = None,
    held: HeldConnections | None = None,
    *,
    flush: bool = True,
) -> Iterator[DriverTransaction]:
    """One transaction on a DB-API connection (BEGIN IMMEDIATE on SQLite).

    With ``held``, the thread's held connection is used; otherwise one from the pool.
    ``flush=False``: this commit is not waited onto disk (SQLite ``synchronous=NORMAL``,
    PostgreSQL ``synchronous_commit = off``, for this transaction only); a crash of the
    process cannot lose it, a power loss can until the next flushed commit (docs/resume.md).
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:  # checking a connection out fails like any statement when the server is away
        raw = held.get() if held is not None else engine.raw_connection()
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, run_id) from exc
    except dbapi_error as exc:  # raw_connection() lets a failed reconnect's error through
        raise translate(_wrapped(exc, dbapi_error), run_id) from exc
    sqlite = engine.dialect.name == "sqlite"
    try:
        cursor = raw.cursor()
        if sqlite and not flush:  # left to the log's next sync: a flushed commit, a checkpoint
            cursor.execute(SQLITE_UNFLUSHED)
        if sqlite:
            cursor.execute("BEGIN IMMEDIATE")  # the write lock up front, as Core does
        elif not flush:
            cursor.execute("SET LOCAL synchronous_commit = off")  # this transaction only
        yield DriverTransaction(cursor)
        raw.commit()
    except dbapi_error as exc:
        _roll_back(raw, dbapi_error, held)
        wrapped = _wrapped(exc, dbapi_error)
        if wrapped.connection_invalidated or isinstance(wrapped, sa_exc.OperationalError):
            _drop(raw, held)
        raise translate(wrapped, run_id) from exc
    except BaseException:
        _roll_back(raw, dbapi_error, held)
        raise
    finally:
        if sqlite and not flush and raw.is_valid:  # not dropped meanwhile
            _flush_again(raw, dbapi_error, held)
        if held is None:
            raw.close()


def read_tuples(engine: Engine, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """A SELECT's rows as the driver gives them, without decoding (many rows, few used)."""
    compiled = DriverStatement(statement, engine.dialect)
    return _read(engine, compiled.sql, compiled.params(compiled.defaults), None, first=False)


def read_row(
    engine: Engine, sql: str, held: HeldConnections | None = None
) -> tuple[Any, ...] | None:
    """The first row of a constant query, at the DB-API level (no transaction is left open)."""
    rows = _read(engine, sql, {}, held, first=True)
    return rows[0] if rows else None


def read_rows(
    engine: Engine,
    statement: Select[Any],
    held: HeldConnections | None = None,
    values: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A SELECT's rows (its bound parameters from ``values``) as dicts of decoded values, on
    the thread's held connection when there is one: a second connection from the pool could
    wait for one this thread holds."""
    compiled = DriverStatement(statement, engine.dialect)
    params = compiled.params(compiled.defaults | dict(values or {}))
    return compiled.decoded(_read(engine, compiled.sql, params, held, first=False))


def _read(engine: Engine, sql: str, params: Any, held: HeldConnections | None,
          first: bool) -> list[tuple[Any, ...]]:  # fmt: skip
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        raw = held.get() if held is not None else engine.raw_connection()
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc) from exc
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        rows = [cursor.fetchone()] if first else cursor.fetchall()
        raw.rollback()
    except dbapi_error as exc:
        _roll_back(raw, dbapi_error, held)
        raise translate(_wrapped(exc, dbapi_error)) from exc
    finally:
        if held is None:
            raw.close()
    return [tuple(row) for row in rows if row is not None]


def _flush_again(raw: Any, dbapi_error: type[Exception], held: HeldConnections | None) -> None:
    """Put the connection back to flushing every commit (the engine's pragma)."""
    try:
        raw.cursor().execute(SQLITE_FLUSHED)
    except dbapi_error:  # a connection that might not flush must not be used again
        _drop(raw, held)


def _wrapped(exc: Exception, dbapi_error: type[Exception]) -> sa_exc.StatementError:
    return sa_exc.DBAPIError.instance(None, None, exc, dbapi_error)


def _roll_back(raw: Any, dbapi_error: type[Exception], held: HeldConnections | None) -> None:
    try:
        raw.rollback()
    except dbapi_error:  # the connection itself is broken: it must not be used again
        _drop(raw, held)


def _drop(raw: Any, held: HeldConnections | None) -> None:
    if held is not None:
        held.discard()
    elif raw.is_valid:  # a failed rollback may have dropped it already
        raw.invalidate()
