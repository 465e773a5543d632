"""Alembic driven from code: ``tradefsm db upgrade|current|check`` and the head check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations
from fsm.errors import SchemaNotCurrent
from persistence.errors import translate_errors
from persistence.tables import metadata  # the tables register themselves on it

MIGRATIONS_DIR = Path(migrations.__file__).parent


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revisions(engine: Engine) -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> tuple[str, ...]:
    with translate_errors(), engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def history(engine: Engine) -> list[dict[str, str | bool]]:
    """Every migration, newest first, and whether the database is at it."""
    current = set(current_revisions(engine))
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    return [
        {"revision": s.revision, "down_revision": str(s.down_revision or ""),
         "message": s.doc or "", "current": s.revision in current}
        for s in scripts.walk_revisions()
    ]  # fmt: skip


def _refuse_unknown(engine: Engine) -> None:
    """A database migrated by a newer tradefsm (or something else) is left untouched."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    known = {s.revision for s in scripts.walk_revisions()}
    unknown = [r for r in current_revisions(engine) if r not in known]
    if unknown:
        raise SchemaNotCurrent(
            f"the database is at revision {', '.join(unknown)}, which this tradefsm does not "
            "know: it was migrated by a newer tradefsm, or is not a tradefsm database"
        )


def upgrade(engine: Engine, revision: str = "head") -> None:
    _refuse_unknown(engine)
    with translate_errors():
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with translate_errors():
        command.downgrade(alembic_config(engine), revision)


def drift(engine: Engine) -> list[object]:
    """Differences between the tables in code and the migrated database (empty: no drift)."""
    with translate_errors(), engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def ensure_current(engine: Engine) -> None:
    """Refuse a database that is not at the head revision."""
    _refuse_unknown(engine)
    current, heads = current_revisions(engine), head_revisions(engine)
    if set(current) != set(heads):
        at = ", ".join(current) or "an empty schema"
        raise SchemaNotCurrent(
            f"the database is at {at} but this tradefsm needs {', '.join(heads)}: "
            "run `tradefsm db upgrade` first"
        )
