"""PostgreSQL: the queue table carries the autovacuum settings docs/operations.md lists, and
migrating below the revision that set them resets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from persistence import migrate
from persistence.engine import make_engine
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres
OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"


def _documented() -> set[str]:
    """The ``name=value`` pairs of the ``ALTER TABLE runs SET (…)`` block in the docs."""
    [block] = re.findall(r"ALTER TABLE runs SET \((.*?)\);", OPERATIONS.read_text("utf-8"), re.S)
    return {re.sub(r"\s+", "", pair) for pair in block.split(",")}


def _reloptions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        options = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE oid = 'public.runs'::regclass")
        ).scalar_one()
    return set(options or [])


def test_the_runs_table_is_vacuumed_after_a_fixed_number_of_dead_rows(
    pg_cluster: PostgresCluster,
) -> None:
    engine = make_engine(pg_cluster.new_database())
    migrate.upgrade(engine)
    documented = _documented()
    assert "autovacuum_vacuum_scale_factor=0" in documented
    assert _reloptions(engine) == documented
    migrate.downgrade(engine, "0016")
    assert _reloptions(engine) == set()
    migrate.upgrade(engine)
    assert _reloptions(engine) == documented
    engine.dispose()
