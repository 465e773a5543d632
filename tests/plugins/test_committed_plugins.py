"""A run is carried on only by the plugins it committed: a worker's claim, `approve`,
`reject`, `retry` and `resume` build them again when they can (same plugin and version,
options hashing alike, the same price file) and otherwise refuse with PluginMismatch naming
what differs, changing nothing (a worker leaves the run queued and logs it once)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fsm.clock import FixedClock
from fsm.engine import Engine
from fsm.errors import PluginMismatch
from fsm.ids import SequentialIdFactory
from fsm.kinds import RunStatus
from fsm.pluginports import plugged_ports
from fsm.plugins import config_hash
from fsm.ports import RunFilter
from fsm.requests import RunRequest
from fsm.settings import Settings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import TRADING_DAY
from tests.days import day
from tests.plugins.test_provenance import _price_file

pytestmark = pytest.mark.usefixtures("test_plugins")

Desk = Callable[..., Engine]
PICKS_ONE = {"picky": {"picks": 1}}
NOW = timedelta(0)


@pytest.fixture
def store(migrated_url: str) -> Any:
    store = SqlRunStore(make_engine(migrated_url))
    yield store
    store.engine.dispose()


@pytest.fixture
def desk(store: SqlRunStore, tmp_path: Path) -> Desk:
    """An engine of a process of its own set up with ``settings`` (and ``prices``), its clock
    ``later`` than the trading day's."""
    made = iter(range(100))

    def engine(prices: Path | None = None, later: timedelta = NOW, **settings: Any) -> Engine:
        config = Settings(**{"actor": "trader-ann", "paper_db": tmp_path / "paper.db"} | settings)
        ports = plugged_ports(config, TRADING_DAY.date(), prices)
        ids = SequentialIdFactory(seed=f"e{next(made)}_")
        return Engine(store, ports, config, FixedClock(TRADING_DAY + later), ids)

    return engine


def _signals(store: SqlRunStore, run_id: str) -> dict[str, Any]:
    return next(c.output for c in store.checkpoints(run_id) if c.state == "generating_signals")


def test_a_worker_leaves_a_run_of_other_plugins_and_one_that_can_build_them_takes_it(
    desk: Desk, store: SqlRunStore, caplog: pytest.LogCaptureFixture
) -> None:
    queued = desk(strategy="picky", plugin_options=PICKS_ONE).submit(RunRequest("paper"))
    assert queued.params["strategy"]["config_sha256"] == config_hash({"picks": 1})

    other = desk(plugin_options={"picky": {"picks": 2}})  # the demo strategy; picky otherwise
    with caplog.at_level(logging.WARNING, logger="tradefsm.engine"):
        assert other.claim() is None
        assert other.claim() is None
    left = [r for r in caplog.records if r.getMessage() == "worker_left_run"]
    assert len(left) == 1  # once per run, not per poll
    assert left[0].run_id == queued.run_id  # type: ignore[attr-defined]
    assert "strategy name picky (run) vs demo-momentum (here)" in left[0].error  # type: ignore[attr-defined]
    still = store.get_run(queued.run_id)
    assert (still.status, still.version, still.lease_owner) == (RunStatus.QUEUED, 1, None)

    rebuilding = desk(plugin_options=PICKS_ONE)  # the demo strategy, picky's options as run's
    done = rebuilding.claim()
    assert done is not None
    assert (done.run_id, done.state) == (queued.run_id, "done")
    assert len(_signals(store, done.run_id)["targets"]) == 1  # picky's one pick drove it


def _parked(desk: Desk, prices: Path) -> str:
    parks = desk(prices, approval_notional=Decimal(1000), approval_timeout_seconds=3600)
    run = parks.run(RunRequest("paper"))
    assert run.state == "awaiting_approval"
    return run.run_id


def test_approve_and_reject_refuse_a_changed_price_file_until_it_is_put_back(
    desk: Desk, store: SqlRunStore, tmp_path: Path
) -> None:
    prices = _price_file(tmp_path)
    run_id = _parked(desk, prices)
    before = store.get_run(run_id)
    _price_file(tmp_path, shift=3)  # the same path, other bytes
    approver = desk(prices, actor="risk-rita")
    for decide in (approver.approve, approver.reject):
        with pytest.raises(PluginMismatch) as refused:
            decide(run_id, actor="risk-rita", reason="looks fine")
        assert "market_data sha256" in refused.value.message
        assert refused.value.message.count("\n") == 0
        assert refused.value.run_id == run_id
    after = store.get_run(run_id)
    assert (after.version, after.lease_owner, after.head_hash) == (
        before.version, before.lease_owner, before.head_hash)  # fmt: skip
    _price_file(tmp_path)  # the file as the run read it: the same process now builds it
    assert approver.approve(run_id, actor="risk-rita", reason="looks fine").state == "done"


def test_approve_builds_the_committed_price_file_where_another_is_set_up(
    desk: Desk, tmp_path: Path
) -> None:
    run_id = _parked(desk, _price_file(tmp_path))
    bundled = desk(actor="risk-rita")  # bundled market data; the run's file is unchanged
    assert bundled.approve(run_id, actor="risk-rita", reason="looks fine").state == "done"


def test_retry_starts_with_the_failed_runs_plugins_or_is_refused(
    desk: Desk, store: SqlRunStore, tmp_path: Path
) -> None:
    parks = desk(strategy="picky", plugin_options=PICKS_ONE, approval_notional=Decimal(1000),
                 approval_timeout_seconds=3600)  # fmt: skip
    parked = parks.run(RunRequest("paper"))
    failed = parks.cancel(parked.run_id, actor="trader-ann", reason="wrong day")
    assert failed.state == "failed"

    with pytest.raises(PluginMismatch, match="strategy config_sha256"):
        desk(plugin_options={"picky": {"picks": 3}}).retry(failed.run_id)
    assert len(store.list_runs(RunFilter())) == 1  # no new run

    retried = desk(plugin_options=PICKS_ONE, approval_notional=Decimal(10**9)).retry(failed.run_id)
    assert retried.parent_run_id == failed.run_id
    assert retried.state == "done"
    assert retried.params["strategy"] == failed.params["strategy"]
    assert len(_signals(store, retried.run_id)["targets"]) == 1


def test_resume_refuses_a_plugin_that_is_not_installed_here(
    desk: Desk, store: SqlRunStore, test_plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = desk(strategy="picky", plugin_options=PICKS_ONE).create(RunRequest("paper"))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(test_plugins)])
    later = desk(later=timedelta(minutes=5))  # a process without them, after the lease ran out
    with pytest.raises(PluginMismatch) as refused:
        later.resume(started.run_id)
    assert "no strategy plugin named 'picky' is installed" in refused.value.message
    assert store.get_run(started.run_id).version == started.version


@pytest.mark.dated
def test_approving_after_the_price_file_changed_exits_12_naming_it(
    ready: Cli, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.csv"

    def write(shift: int) -> None:
        rows = [f"{day(d)},{s},{p + d + shift}" for d in (-21, 0)
                for s, p in (("AAA", 100), ("BBB", 500))]  # fmt: skip
        prices.write_text("date,symbol,price\n" + "\n".join(rows) + "\n", encoding="utf-8")

    write(0)
    parks = {"TRADEFSM_APPROVAL_NOTIONAL": "1000", "TRADEFSM_ACTOR": "trader-ann"}
    run = ready.json("run", "--json", "--prices", str(prices), "--as-of", day(),
                     code=9, env_extra=parks)  # fmt: skip
    write(1)
    refused = ready("approve", run["run_id"], "--actor", "risk-rita", "--reason", "ok", code=12)
    line = one_line_error(refused)
    assert f"run {run['run_id']} committed other plugins" in line
    assert "market_data name csv (run) vs bundled (here)" in line
    assert "sha256" in line
    write(0)  # the file as the run read it: the committed csv data is built again
    ready("approve", run["run_id"], "--actor", "risk-rita", "--reason", "ok")
