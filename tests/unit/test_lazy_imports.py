"""`tradefsm --help` and `import fsm` stay cheap: the database layer loads only when used."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import typer

import fsm
from fsm import cli, commands
from persistence import migrate

PROBE = """
import sys
sys.argv = ["tradefsm", *{args!r}]
from fsm.cli import main
try:
    main()
except SystemExit:
    pass
heavy = {heavy!r}
print("loaded:" + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""
HEAVY = ("sqlalchemy", "alembic", "pydantic_settings", "statemachine", "structlog",
         "exchange_calendars", "pandas")  # fmt: skip
# What `tradefsm run` itself uses of the command modules: no other command's module loads.
RUN_COMMAND = {"embedded", "integrity", "lifecycle", "output", "runs"}
OTHER_COMMANDS = tuple(
    f"fsm.commands.{m.name}" for m in pkgutil.iter_modules(commands.__path__)
    if m.name not in RUN_COMMAND
)  # fmt: skip
# A dry run for a script never loads these (on SQLite, PostgreSQL's dialect included): rich
# (JSON is printed without it), the diagrams (the stored definition's is not drawn again).
NOT_ON_A_DRY_RUN = ("structlog", "cryptography", "sqlalchemy.dialects.postgresql", "rich",
                    "fsm.diagram", "statemachine.contrib.diagram", *OTHER_COMMANDS)  # fmt: skip


def _loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args), heavy=HEAVY)],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("loaded:")]
    return set(filter(None, line.removeprefix("loaded:").split(",")))


def test_help_and_version_load_no_database_layer() -> None:
    assert _loaded("--help") == set()
    assert _loaded("--version") == set()
    assert _loaded("runs", "--help") == set()


def test_a_dry_run_loads_nothing_it_does_not_use(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFSM_")} | {
        "TRADEFSM_DB": f"sqlite:///{tmp_path / 'runs.db'}",
        "TRADEFSM_PAPER_DB": str(tmp_path / "paper.db"),
    }
    dry_run = ["run", "--mode", "dry-run", "--json"]
    # The first run on a new database stores the machine definition, with its diagram.
    for args in (["db", "upgrade"], dry_run, dry_run):
        probe = PROBE.format(args=args, heavy=NOT_ON_A_DRY_RUN)
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              check=True, timeout=120, env=env, cwd=tmp_path)  # fmt: skip
    assert json.loads(done.stdout)["status"] == "done"
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("loaded:")]
    assert line == "loaded:", "a dry run should not load these"


def test_each_command_is_registered_by_its_entry_in_the_table() -> None:
    """The lazy table names exactly the commands each registration adds, so a command added
    to a module but not to the table (or the other way round) fails here."""
    table = cli.COMMANDS
    for registration in set(table.values()):
        scratch = typer.Typer()
        registration(scratch)
        added = typer.main.get_group(scratch).commands
        assert set(added) == {name for name, r in table.items() if r is registration}


def test_the_calendar_library_loads_only_when_sessions_are_not_cached(tmp_path: Path) -> None:
    """A dry run reads the bundled data's sessions from the cache the first run wrote."""
    probe = (
        "import sys; from datetime import date; from fsm.calendar import calendar_for; "
        "calendar_for('XNYS').is_session(date(2031, 3, 3)); "
        "print('exchange_calendars' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    command = [sys.executable, "-c", probe]
    runs = [subprocess.run(command, capture_output=True, text=True, check=True, timeout=60,
                           env=env).stdout.strip() for _ in range(2)]  # fmt: skip
    assert runs == ["True", "False"]
    assert [p.name for p in (tmp_path / "tradefsm" / "sessions").iterdir()] == [
        f"XNYS-{metadata.version('exchange-calendars')}-2031.json"
    ]


def test_every_public_name_of_fsm_resolves() -> None:
    for name in fsm.__all__:
        assert getattr(fsm, name) is not None, name


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    from persistence.engine import make_engine

    engine = make_engine("sqlite://")
    assert migrate.head_revisions(engine) == (migrate.HEAD_REVISION,)
