"""`retention detach`: a month's partitions go once every row in them is of an archived,
unheld run (PostgreSQL); a month holding anything else stays; SQLite has no partitions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fsm import holds
from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import DetachRefused, InvalidInput
from fsm.ids import SequentialIdFactory
from fsm.settings import Settings
from persistence import migrate, partitions
from persistence.monthdetach import detach
from persistence.retention import SqlHolds
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import TRADING_DAY, make_engine_for
from tests.retention.conftest import LATER, Retained

MONTH = partitions.Month.of(TRADING_DAY.date())  # the month of every run of the history


def _attached(retained: Retained) -> set[str]:
    with retained.engine.begin() as conn:
        return set(partitions.attached(conn))


def test_a_month_with_unarchived_or_held_runs_stays(retained: Retained) -> None:
    if retained.engine.dialect.name != "postgresql":
        with pytest.raises(InvalidInput, match="needs PostgreSQL"):
            detach(retained.engine, MONTH, apply=False)
        return
    retained.apply()  # alpha and gamma archived; beta is held, delta waits for approval
    found = detach(retained.engine, MONTH, apply=False)
    assert found.blocking == {
        retained.history.refused.run_id: "is not archived (no tombstone: `tradefsm retention "
        "apply` first)",
        retained.parked: "is not archived (no tombstone: `tradefsm retention apply` first)",
    }
    assert found.rows > 0
    assert not found.detached
    before = _attached(retained)
    with pytest.raises(DetachRefused, match=f"month {MONTH} not detached: run "):
        detach(retained.engine, MONTH, apply=True)
    assert _attached(retained) == before
    assert retained.verify().ok


def test_an_archived_month_is_detached_and_dropped(retained: Retained, tmp_path: Path) -> None:
    if retained.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no month partitions")
    history = retained.history
    holds.change(SqlHolds(retained.engine), "release", None, "beta", "legal-lee", "closed",
                 "ops", LATER)  # fmt: skip
    operator = make_engine_for(history.store, PaperBroker(tmp_path / "ops.db"),
                               FixedClock(TRADING_DAY), Settings(actor="ops-ann"),
                               ids=SequentialIdFactory("ops"))  # fmt: skip
    operator.cancel(retained.parked, actor="ops-ann", reason="stale plan")
    retained.seal()
    assert len(retained.apply().archived) == 4  # every run of the month
    found = detach(retained.engine, MONTH, apply=True)
    names = [partitions.partition_name(t, MONTH) for t in partitions.PARTITIONED]
    assert (found.detached, found.partitions, found.blocking) == (True, names, {})
    assert not set(names) & _attached(retained)
    with retained.engine.connect() as conn:
        for name in names:  # dropped, not only detached
            assert conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None
    assert retained.verify().ok
    assert migrate.drift(retained.engine) == []


def test_detach_on_sqlite_or_of_a_bad_month_is_one_line_exit_2(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.upgrade()
    done = cli("retention", "detach", "--month", "2026-11", "--apply", code=2)
    assert "retention detach needs PostgreSQL" in one_line_error(done)
    done = cli("retention", "detach", "--month", "2026-13", code=2)
    assert "give it as YYYY-MM" in one_line_error(done)
