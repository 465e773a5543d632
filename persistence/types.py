"""Portable column types: UTC datetimes, JSON (JSONB on PostgreSQL), Decimal as text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator, TypeEngine


class JsonDocumentType(TypeDecorator[Any]):
    """A JSON document (SQL NULL for ``None``): JSONB on PostgreSQL, JSON text elsewhere.
    PostgreSQL's dialect module is imported only when a PostgreSQL dialect asks for the type,
    so SQLite never loads it."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name != "postgresql":
            return self.impl_instance
        from sqlalchemy.dialects.postgresql import JSONB  # noqa: PLC0415  # loaded by then

        return dialect.type_descriptor(JSONB(none_as_null=True))


JsonDocument = JsonDocumentType()


_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's SQLite DATETIME format


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware UTC")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; a naive value is refused instead of guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite has no time zones: store UTC wall time, re-attach UTC when reading.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    @staticmethod
    def driver_processor(dialect: Dialect) -> Callable[[datetime | None], Any]:
        """The value the DB-API driver gets, in one step: what ``process_bind_param`` and the
        dialect's own processor produce together (SQLite's text form, e.g.
        ``2026-01-02 03:04:05.000006``; an aware UTC datetime elsewhere)."""
        if dialect.name != "sqlite":
            return lambda value: None if value is None else as_utc(value)

        def sqlite_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            v = as_utc(value)
            return _SQLITE_TIME % (v.year, v.month, v.day, v.hour, v.minute, v.second,
                                   v.microsecond)  # fmt: skip

        return sqlite_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals stored as text, identical on every backend."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
