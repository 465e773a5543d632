"""The run database's schema: migrate, inspect, check its defences, grant its roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsm.compose.stores import engine_for, settings_for
from fsm.errors import StorageError

if TYPE_CHECKING:
    from fsm.audit import Finding


def upgrade(db: str | None) -> tuple[str, ...]:
    """Create or migrate the run database to head; the revisions it is at then."""
    from persistence import migrate

    engine = engine_for(settings_for(db).db, create=True)
    migrate.upgrade(engine)
    ensure_partitions(db)
    return migrate.current_revisions(engine)


def ensure_partitions(db: str | None, months_ahead: int | None = None) -> list[str]:
    """Create the month partitions missing from last month to ``months_ahead`` after this
    one (PostgreSQL, as the tables' owner); the names created."""
    from fsm.clock import SystemClock
    from persistence import migrate, partitions

    engine = engine_for(settings_for(db).db)
    migrate.ensure_current(engine)
    ahead = partitions.DEFAULT_MONTHS_AHEAD if months_ahead is None else months_ahead
    return partitions.ensure(engine, SystemClock().now().date(), ahead)


def history(db: str | None) -> list[dict[str, str | bool]]:
    """The schema migrations, newest first, ``current`` marking the database's."""
    from persistence import migrate

    return migrate.history(engine_for(settings_for(db).db, read_only=True))


def current(db: str | None) -> tuple[str, ...]:
    """The schema revisions of the database (none when empty)."""
    from persistence import migrate

    return migrate.current_revisions(engine_for(settings_for(db).db, read_only=True))


def weakened_defences(db: str | None) -> list[Finding]:
    """The defences the database lost (append-only triggers as migrated, no row-level
    security, schema public) and, on PostgreSQL, this or next month without its partition;
    StorageError when it is not at head or drifts from the code."""
    from fsm.clock import SystemClock
    from persistence import migrate, partitions
    from persistence.defences import defence_findings

    engine = engine_for(settings_for(db).db)
    migrate.ensure_current(engine)
    differences = migrate.drift(engine)
    if differences:
        raise StorageError(f"schema drift: {differences[:3]}")
    today = SystemClock().now().date()
    return defence_findings(engine) + partitions.missing_findings(engine, today)


def grant_statements(runtime: str | None, sealer: str | None, auditor: str | None) -> list[str]:
    """The least-privilege GRANT statements of the PostgreSQL roles named."""
    from persistence import grants

    return grants.statements(grants.Roles(runtime, sealer, auditor))


def apply_grants(db: str | None, sql: list[str]) -> None:
    """Run ``sql`` (``grant_statements``) on the database at head revision."""
    from persistence import grants, migrate

    engine = engine_for(settings_for(db).db)
    migrate.ensure_current(engine)
    grants.apply(engine, sql)
