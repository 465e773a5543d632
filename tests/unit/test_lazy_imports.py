"""`tradefsm --help` and `import fsm` stay cheap: the database layer loads only when used."""

from __future__ import annotations

import subprocess
import sys

import fsm
from persistence import migrate

PROBE = """
import sys
sys.argv = ["tradefsm", *{args!r}]
from fsm.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("sqlalchemy", "alembic", "pydantic_settings", "statemachine", "structlog")
print("loaded:" + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def _loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("loaded:")]
    return set(filter(None, line.removeprefix("loaded:").split(",")))


def test_help_and_version_load_no_database_layer() -> None:
    assert _loaded("--help") == set()
    assert _loaded("--version") == set()
    assert _loaded("runs", "--help") == set()


def test_every_public_name_of_fsm_resolves() -> None:
    for name in fsm.__all__:
        assert getattr(fsm, name) is not None, name


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    from persistence.engine import make_engine

    engine = make_engine("sqlite://")
    assert migrate.head_revisions(engine) == (migrate.HEAD_REVISION,)
