"""Month partitions of the ledger and its side tables on PostgreSQL (revision 0018,
docs/operations.md "Month partitions"): the migration both ways on a populated database, a run
across a month's turn, what verify, `db check` and the drift check see of each partition, and
the commands `db partitions ensure` and `retention detach`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text

from fsm.adapters.paper_broker import PaperBroker
from fsm.clock import FixedClock
from fsm.errors import StorageError
from fsm.ids import SequentialIdFactory
from fsm.requests import RunRequest
from persistence import migrate, partitions
from persistence.audit import SqlAudit
from persistence.defences import defence_findings
from persistence.engine import make_engine
from persistence.store import SqlRunStore
from persistence.verify import verify
from tests.audit.conftest import build_history
from tests.cli.conftest import Cli, one_line_error
from tests.conftest import make_engine_for
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres
K8S = Path(__file__).parents[2] / "deploy" / "k8s"
TODAY = datetime.now(UTC).date()
THIS_MONTH = partitions.Month.of(TODAY)


@pytest.fixture
def engine(pg_cluster: PostgresCluster) -> Engine:
    engine = make_engine(pg_cluster.new_database())
    migrate.upgrade(engine)
    return engine


def _run(engine: Engine, tmp_path: Path, start: datetime, account: str = "acct") -> str:
    driving = make_engine_for(SqlRunStore(engine), PaperBroker(tmp_path / f"{account}.db"),
                              FixedClock(start), ids=SequentialIdFactory(account))  # fmt: skip
    return driving.run(RunRequest(account_id=account)).run_id


def _verified(engine: Engine) -> list[tuple[str, str | None, str]]:
    return [(f.kind, f.run_id, f.problem) for f in verify(engine).findings]


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_migration_down_and_up_keeps_a_populated_history(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = pg_cluster.new_database()
    migrate.upgrade(make_engine(url))
    history = build_history(url, tmp_path)
    engine = history.audit.engine
    assert history.audit.verify().ok
    ledger = "SELECT run_id, seq, occurred_at, hash FROM ledger ORDER BY 1, 2"
    before = _rows(engine, ledger)
    migrate.downgrade(engine, "0017")
    assert _rows(engine, ledger) == before
    assert _rows(engine, "SELECT count(*) FROM pg_inherits") == [(0,)]
    migrate.upgrade(engine)
    assert _rows(engine, ledger) == before
    assert history.audit.verify().ok
    assert _rows(engine, "SELECT count(*) FROM checkpoints c JOIN ledger l USING (run_id, seq) "
                         "WHERE c.recorded_at <> l.occurred_at") == [(0,)]  # fmt: skip
    assert migrate.drift(engine) == []
    assert defence_findings(engine) == []


def test_a_run_across_a_month_turn_verifies(engine: Engine, tmp_path: Path) -> None:
    turn = datetime.combine(THIS_MONTH.start, datetime.min.time(), UTC)
    run_id = _run(engine, tmp_path, turn - timedelta(milliseconds=3))
    before, after = (partitions.partition_name("ledger", m) for m in (THIS_MONTH.plus(-1),
                                                                       THIS_MONTH))  # fmt: skip
    counts = [_rows(engine, f"SELECT count(*) FROM {p} WHERE run_id = '{run_id}'")[0][0]
              for p in (before, after)]  # fmt: skip
    assert 0 not in counts
    assert _verified(engine) == []


def test_a_second_row_of_a_seq_in_another_month_is_named_by_verify(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = _run(engine, tmp_path, datetime.now(UTC))
    columns = "run_id, seq, event, source, target, accepted, guards, actor, correlation_id, " \
              "causation_id, duration_ms, attempt, error_type, error_message, commits, " \
              "scheme, process, prev_hash, hash"  # fmt: skip
    later = THIS_MONTH.plus(1).start.isoformat()
    _sql(engine, f"INSERT INTO ledger ({columns}, occurred_at) SELECT {columns}, "
         f"'{later}T00:00:00+00' FROM ledger WHERE run_id = '{run_id}' AND seq = 2")  # fmt: skip
    assert [(kind, run) for kind, run, _ in _verified(engine)] == [("inserted", run_id)]


def test_a_weakened_partition_is_reported_by_db_check_and_verify(
    engine: Engine, tmp_path: Path
) -> None:
    assert _rows(
        engine,
        "SELECT DISTINCT t.tgenabled FROM pg_trigger t JOIN pg_inherits i "
        "ON i.inhrelid = t.tgrelid WHERE NOT t.tgisinternal",
    ) == [("A",)]
    name = partitions.partition_name("ledger", THIS_MONTH)
    with pytest.raises(Exception, match=f"{name} is append-only: TRUNCATE refused"):
        _sql(engine, f"TRUNCATE {name}")
    _sql(engine, f"ALTER TABLE {name} DISABLE TRIGGER ledger_append_only_update",
         f"ALTER TABLE {partitions.partition_name('checkpoints', THIS_MONTH)} "
         "ENABLE ROW LEVEL SECURITY")  # fmt: skip
    problems = {(f.key, f.problem.split(":")[0]) for f in defence_findings(engine)}
    assert problems == {
        (f"{name}.ledger_append_only_update", "append-only trigger disabled"),
        (partitions.partition_name("checkpoints", THIS_MONTH), "row-level security enabled, 0 "
                                                               "policies"),
    }  # fmt: skip
    _run(engine, tmp_path, datetime.now(UTC))
    report = SqlAudit(engine).verify()  # `audit verify`: the run's rows and the defences
    assert {f.kind for f in report.findings} == {"defence_weakened"}
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_DB"] = engine.url.render_as_string(hide_password=False)
    checked = cli("db", "check", code=3)
    assert f"{name}.ledger_append_only_update: append-only trigger disabled" in checked.stderr


def test_db_check_reports_a_missing_next_month_that_ensure_creates(
    engine: Engine, tmp_path: Path
) -> None:
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_DB"] = engine.url.render_as_string(hide_password=False)
    assert "defences in place" in cli("db", "check").stdout
    nxt = THIS_MONTH.plus(1)
    for table in partitions.PARTITIONED:
        _sql(engine, f"DROP TABLE {partitions.partition_name(table, nxt)}")
    checked = cli("db", "check", code=3)
    assert f"no partition for {nxt}" in one_line_error(checked)
    assert "tradefsm db partitions ensure" in checked.stderr
    monthly = yaml.safe_load((K8S / "partitions-cronjob.yaml").read_text("utf-8"))
    [job] = monthly["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    created = cli.json(*job["command"][1:])  # the CronJob's command
    assert created == [{"partition": partitions.partition_name(t, nxt)}
                       for t in partitions.PARTITIONED]  # fmt: skip
    assert cli.json("db", "partitions", "ensure", "--format", "json") == []
    assert "defences in place" in cli("db", "check").stdout
    for table in partitions.PARTITIONED:
        _sql(engine, f"DROP TABLE {partitions.partition_name(table, nxt)}")
    cli("db", "upgrade")  # runs ensure too
    assert "defences in place" in cli("db", "check").stdout


def test_retention_detach_of_an_empty_month_as_a_script_reads_it(
    engine: Engine, tmp_path: Path
) -> None:
    cli = Cli(tmp_path)
    cli.env["TRADEFSM_DB"] = engine.url.render_as_string(hide_password=False)
    month = THIS_MONTH.plus(2)
    names = [partitions.partition_name(t, month) for t in partitions.PARTITIONED]
    command = ("retention", "detach", "--month", str(month), "--format", "json")
    assert cli.json(*command) == {"month": str(month), "partitions": names, "rows": 0,
                                  "runs": 0, "detached": False, "blocking": {}}  # fmt: skip
    assert cli.json(*command, "--apply")["detached"] is True
    assert cli.json(*command)["partitions"] == []
    assert "defences in place" in cli("db", "check").stdout


def test_a_month_without_a_partition_is_a_storage_error_naming_the_command(
    engine: Engine, tmp_path: Path
) -> None:
    far = datetime.combine(THIS_MONTH.plus(24).start, datetime.min.time(), UTC)
    with pytest.raises(StorageError, match="run `tradefsm db partitions ensure`"):
        _run(engine, tmp_path, far)


def test_an_owner_detaching_live_history_is_found_by_verify(engine: Engine, tmp_path: Path) -> None:
    run_id = _run(engine, tmp_path, datetime.now(UTC))
    name = partitions.partition_name("ledger", THIS_MONTH)
    _sql(engine, f"ALTER TABLE ledger DETACH PARTITION {name}")  # no trigger fires
    assert ("deleted", run_id) in {(kind, run) for kind, run, _ in _verified(engine)}
    assert any(name in str(d) for d in migrate.drift(engine))  # a month table not attached


def test_drift_accepts_a_month_table_only_attached_with_its_own_bounds(engine: Engine) -> None:
    assert migrate.drift(engine) == []
    _sql(engine, "CREATE TABLE ledger_y2030m01 PARTITION OF ledger FOR VALUES "
         "FROM ('2030-02-01 00:00:00+00') TO ('2030-03-01 00:00:00+00')")  # fmt: skip
    assert [str(d) for d in migrate.drift(engine)] == [
        "ledger_y2030m01: attached to ledger FOR VALUES FROM ('2030-02-01 00:00:00+00') TO "
        "('2030-03-01 00:00:00+00'), not as its own month"
    ]
