"""Driver errors become tradefsm errors here, and only here, chained with ``from``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from fsm.errors import (
    ConcurrentModification,
    DatabaseUnavailable,
    HistoryIsAppendOnly,
    StorageError,
    TradeFsmError,
)
from fsm.redaction import redact

_TRANSLATIONS: tuple[tuple[type[Exception], type[TradeFsmError], str], ...] = (
    (sa_exc.IntegrityError, ConcurrentModification, "another writer stored this row first"),
    (sa_exc.OperationalError, DatabaseUnavailable, "the database is unavailable"),
    (sa_exc.InterfaceError, DatabaseUnavailable, "the database connection failed"),
    (sa_exc.DBAPIError, StorageError, "the database refused the write"),
    (sa_exc.SQLAlchemyError, StorageError, "the database layer failed"),
)


@contextmanager
def translate_errors(run_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, run_id) from exc


def translate(exc: sa_exc.SQLAlchemyError, run_id: str | None = None) -> TradeFsmError:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if "append-only" in detail:  # raised by the triggers of persistence.append_only
        return HistoryIsAppendOnly(redact(detail), run_id=run_id)
    # The last row matches every SQLAlchemyError, so a translation is always found.
    ours, summary = next((o, s) for t, o, s in _TRANSLATIONS if isinstance(exc, t))
    return ours(f"{summary}: {redact(detail)}", run_id=run_id)
