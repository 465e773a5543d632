"""Least privilege on a real PostgreSQL: an owner migrates and grants (`db grants --apply`);
runs, a worker and an approval work as the runtime role, `audit seal` as the sealer, `audit
verify` as the auditor; the runtime role cannot change what was committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.postgres


class Deployment:
    """A database owned by a plain (not superuser) owner, and a login role per duty."""

    def __init__(self, cluster: PostgresCluster, cli: Cli) -> None:
        self.cluster, self.cli = cluster, cli
        self.urls = cluster.least_privileged_database()
        self.name = self.urls["owner"].rsplit("/", 1)[1]

    def url(self, role: str) -> str:
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.cluster.port}/{self.name}"

    def connect(self, role: str) -> psycopg.Connection:
        dsn = f"host=127.0.0.1 port={self.cluster.port} user={role} dbname={self.name}"
        return psycopg.connect(dsn, autocommit=True)

    def as_(self, role: str, *args: str, code: int = 0) -> Any:
        return self.cli(*args, code=code, env_extra={"TRADEFSM_DB": self.url(f"tradefsm_{role}")})


@pytest.fixture
def deployment(pg_cluster: PostgresCluster, cli: Cli) -> Deployment:
    deployment = Deployment(pg_cluster, cli)
    deployment.as_("owner", "db", "upgrade")
    deployment.as_("owner", "db", "grants", "--runtime", "tradefsm_runtime", "--sealer",
                   "tradefsm_sealer", "--auditor", "tradefsm_auditor", "--apply")  # fmt: skip
    return deployment


REFUSED = [
    "UPDATE runs SET account_id = 'other'",
    "UPDATE order_intents SET qty = '999'",
    "UPDATE ledger SET actor = 'mallory'",
    "DELETE FROM ledger",
    "DELETE FROM runs",
    "TRUNCATE order_intents CASCADE",
    "ALTER TABLE ledger DISABLE TRIGGER ledger_append_only_update",
    "ALTER TABLE runs ADD COLUMN note text",
    "DROP TRIGGER ledger_append_only_delete ON ledger",
    "CREATE OR REPLACE FUNCTION tradefsm_refuse_change() RETURNS trigger AS "
    "$$BEGIN RETURN NEW; END$$ LANGUAGE plpgsql",
    "INSERT INTO digests (n, digest_hash, key_id, created_at, document) "
    "VALUES (99, 'x', 'k', now(), '{}')",
    "CREATE TABLE extra (x int)",
]


def test_each_duty_works_under_its_own_least_privileged_role(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment
    assert "defences in place" in d.as_("owner", "db", "check").stdout
    ran = d.cli.json("run", "--account", "acct-1", "--json",
                     env_extra={"TRADEFSM_DB": d.url("tradefsm_runtime")})  # fmt: skip
    assert ran["state"] == "done"
    assert len(ran["orders"]) > 0
    queued = d.as_("runtime", "submit", "--account", "acct-2").stdout.strip()
    d.as_("runtime", "worker", "--max-runs", "1", "--idle-exit", "5")
    d.cli.env["TRADEFSM_APPROVAL_NOTIONAL"] = "1000"
    d.as_("runtime", "run", "--account", "acct-3", "--actor", "trader-ann", code=9)
    [parked] = d.cli.json("runs", "list", "--state", "awaiting_approval", "--format", "json",
                          env_extra={"TRADEFSM_DB": d.url("tradefsm_auditor")})  # fmt: skip
    d.as_("runtime", "approve", parked["run_id"], "--actor", "risk-bob", "--reason", "ok")
    keys = tmp_path / "keys"
    d.as_("auditor", "audit", "keygen", "--out", str(keys))
    d.cli.env["TRADEFSM_AUDIT_SIGNING_KEY"] = str(keys / "tradefsm-audit.key")
    sealed = d.as_("runtime", "audit", "seal", "--out", str(tmp_path / "digests"), code=3)
    assert "permission denied for table digests" in one_line_error(sealed)
    d.as_("sealer", "audit", "seal", "--out", str(tmp_path / "digests"))
    verified = d.as_("auditor", "audit", "verify", "--digests", str(tmp_path / "digests"),
                     "--public-key", str(keys / "tradefsm-audit.pub"))  # fmt: skip
    assert "in 3 run(s): intact" in verified.stdout
    shown = d.cli.json("runs", "show", queued, "--format", "json",
                       env_extra={"TRADEFSM_DB": d.url("tradefsm_auditor")})  # fmt: skip
    assert shown["run"]["state"] == "done"
    with d.connect("tradefsm_runtime") as conn:
        for statement in REFUSED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with d.connect("tradefsm_auditor") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO definitions VALUES ('x', '{}', '')")
    assert "defences in place" in d.as_("owner", "db", "check").stdout


def test_db_grants_prints_without_a_database_and_refuses_odd_role_names(cli: Cli) -> None:
    printed = cli("db", "grants", "--runtime", "app").stdout.splitlines()
    assert (
        "GRANT UPDATE (status, broker_order_id, filled_qty, avg_price, updated_at) ON "
        "public.order_intents TO app;" in printed
    )
    assert not any("DELETE" in line or "TRUNCATE" in line for line in printed)
    odd = cli("db", "grants", "--auditor", "x; DROP TABLE runs", code=2)
    assert "role name" in one_line_error(odd)


def test_a_grant_missing_after_an_order_went_out_leaves_the_run_resumable(
    deployment: Deployment,
) -> None:
    d = deployment
    with d.connect("tradefsm_owner") as conn:
        conn.execute("REVOKE UPDATE ON order_intents FROM tradefsm_runtime")
    line = one_line_error(d.as_("runtime", "run", "--account", "acct-9", code=3))
    assert "permission denied for table order_intents" in line
    [run] = d.cli.json("runs", "list", "--format", "json",
                       env_extra={"TRADEFSM_DB": d.url("tradefsm_auditor")})  # fmt: skip
    assert (run["state"], run["status"]) == ("executing", "active")  # not failed
    assert f"`tradefsm resume {run['run_id']}`" in line
    sent = d.cli.json("paper", "orders", "--account", "acct-9", "--format", "json")
    assert len(sent) >= 1  # the broker has the order the database could not update
    d.as_("owner", "db", "grants", "--runtime", "tradefsm_runtime", "--apply")
    resumed = d.cli.json("resume", run["run_id"], "--json",
                         env_extra={"TRADEFSM_DB": d.url("tradefsm_runtime")})  # fmt: skip
    assert resumed["state"] == "done", resumed
    orders = d.cli.json("paper", "orders", "--account", "acct-9", "--format", "json")
    assert len({o["client_order_id"] for o in orders}) == len(orders) == len(resumed["orders"])
    assert "intact" in d.as_("auditor", "audit", "verify").stdout
