"""Alembic driven from code: ``tradefsm db upgrade|current|check`` and the head check.

Alembic is imported by the functions that migrate or inspect; the check every command makes
(``ensure_current``) reads the version table with SQLAlchemy alone.

Alembic hands a migration its ``context`` and ``op`` through process-wide proxies: two
threads migrating at once would each remove the other's. Migrations in one process therefore
run one at a time (``_MIGRATING``), and a database already at the head is not handed to
Alembic at all. Across processes, SQLite's write lock (every transaction here begins
IMMEDIATE) and PostgreSQL's transactional DDL leave the second migration nothing to do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text

import migrations
from fsm.errors import SchemaNotCurrent
from persistence.errors import translate_errors

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(migrations.__file__).parent
HEAD_REVISION = "0018"  # the newest migration (a test holds it to migrations/versions)
_MIGRATING = threading.Lock()  # Alembic's proxies are process-wide: one migration at a time


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def _scripts(engine: Engine) -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine))


def head_revisions(engine: Engine) -> tuple[str, ...]:
    return tuple(_scripts(engine).get_heads())


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at (Alembic's version table), without loading Alembic."""
    with translate_errors(), engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return ()
        return tuple(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def history(engine: Engine) -> list[dict[str, str | bool]]:
    """Every migration, newest first, and whether the database is at it."""
    current = set(current_revisions(engine))
    scripts = _scripts(engine)
    return [
        {"revision": s.revision, "down_revision": str(s.down_revision or ""),
         "message": s.doc or "", "current": s.revision in current}
        for s in scripts.walk_revisions()
    ]  # fmt: skip


def _refuse_unknown(engine: Engine) -> None:
    """A database migrated by a newer tradefsm (or something else) is left untouched."""
    known = {s.revision for s in _scripts(engine).walk_revisions()}
    unknown = [r for r in current_revisions(engine) if r not in known]
    if unknown:
        raise SchemaNotCurrent(
            f"the database is at revision {', '.join(unknown)}, which this tradefsm does not "
            "know: it was migrated by a newer tradefsm, or is not a tradefsm database"
        )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; safe to call from several threads (and processes) at once."""
    from alembic import command

    if revision == "head" and current_revisions(engine) == (HEAD_REVISION,):
        return  # nothing to do: the common case of every later start
    with _MIGRATING:
        _refuse_unknown(engine)
        with translate_errors():
            command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with _MIGRATING, translate_errors():
        command.downgrade(alembic_config(engine), revision)


def drift(engine: Engine) -> list[object]:
    """Differences between the tables in code and the migrated database (empty: no drift).
    On PostgreSQL a month partition is expected when attached to its table with its month's
    bounds (persistence.partitions); one that is not is a difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from persistence import partitions
    from persistence.tables import metadata  # the tables register themselves on it

    with translate_errors(), engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        months = partitions.attached(conn) if postgres else {}  # each as its own month's
        misplaced = partitions.misplaced(conn) if postgres else []

        def known(name: str | None, kind: str, _parent: object) -> bool:
            return not (kind == "table" and name in months)

        context = MigrationContext.configure(conn, opts={"include_name": known})
        return [*misplaced, *compare_metadata(context, metadata)]


def ensure_current(engine: Engine) -> None:
    """Refuse a database that is not at the head revision (Alembic loads only to say why)."""
    if current_revisions(engine) == (HEAD_REVISION,):
        return
    _refuse_unknown(engine)
    current, heads = current_revisions(engine), head_revisions(engine)
    if set(current) != set(heads):
        at = ", ".join(current) or "an empty schema"
        raise SchemaNotCurrent(
            f"the database is at {at} but this tradefsm needs {', '.join(heads)}: "
            "run `tradefsm db upgrade` first"
        )
