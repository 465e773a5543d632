"""deploy/k8s: the worker Deployment and the KEDA scaler on the claimable runs, whose query
counts the unfinished runs (the claim index's predicate) through an index, never reading the
finished runs, read
under the auditor role as KEDA reads it (docs/operations.md, "Autoscaling workers")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from persistence import grants, migrate
from persistence.engine import make_engine
from persistence.tables import CLAIMABLE_WHERE
from tests.integration.test_claim_plan import QUEUED, _fill
from tests.postgres_cluster import PostgresCluster

K8S = Path(__file__).parents[2] / "deploy" / "k8s"


def _manifests() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The worker Deployment, the ScaledObject and its TriggerAuthentication."""
    deployment = yaml.safe_load((K8S / "worker-deployment.yaml").read_text("utf-8"))
    keda = (K8S / "keda" / "worker-scaledobject.yaml").read_text("utf-8")
    by_kind = {doc["kind"]: doc for doc in yaml.safe_load_all(keda)}
    return deployment, by_kind["ScaledObject"], by_kind["TriggerAuthentication"]


def _trigger() -> dict[str, Any]:
    [trigger] = _manifests()[1]["spec"]["triggers"]
    return trigger  # type: ignore[no-any-return]


def test_the_worker_deployment_reads_its_secret_requests_resources_and_is_probed() -> None:
    deployment = _manifests()[0]
    [worker] = deployment["spec"]["template"]["spec"]["containers"]
    assert worker["envFrom"] == [{"secretRef": {"name": "tradefsm"}}]
    assert {"cpu", "memory"} <= set(worker["resources"]["requests"])
    command = worker["command"]
    [port] = worker["ports"]
    assert port["containerPort"] == int(command[command.index("--metrics-port") + 1])
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker[probe]["tcpSocket"]["port"] == port["name"]


def test_keda_scales_the_worker_deployment_on_the_claimable_runs() -> None:
    deployment, scaled, authentication = _manifests()
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    trigger = _trigger()
    assert trigger["type"] == "postgresql"
    assert trigger["metadata"]["query"] == f"SELECT count(*) FROM runs WHERE {CLAIMABLE_WHERE}"
    assert int(trigger["metadata"]["targetQueryValue"]) > 0
    assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]
    [secret] = authentication["spec"]["secretTargetRef"]
    assert (secret["parameter"], secret["name"]) == ("connection", "tradefsm")


@pytest.mark.postgres
def test_the_scaler_query_counts_the_claimable_runs_through_the_claim_index(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    urls = pg_cluster.least_privileged_database()
    owner = make_engine(urls["owner"])
    migrate.upgrade(owner)
    grants.apply(owner, grants.statements(grants.Roles(auditor="tradefsm_auditor")))
    owner.dispose()
    submitted = _fill(urls["owner"], tmp_path)  # 20,000 finished runs, then unfinished ones
    query = _trigger()["metadata"]["query"]
    auditor = urls["auditor"].replace("postgresql+psycopg://", "postgresql://")  # libpq, as KEDA
    with psycopg.connect(auditor) as conn:
        [(count,)] = conn.execute(query).fetchall()
        [(plan,)] = conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchall()
    assert count == len(submitted) + QUEUED
    [scan] = _reads_of_runs(plan[0]["Plan"])  # an index of the unfinished runs, no Seq Scan
    assert scan in {"ix_runs_claimable", "ix_runs_status"}, json.dumps(plan)


def _reads_of_runs(node: dict[str, Any]) -> list[str]:
    """The index (``Seq Scan`` for none) of every read of ``runs`` in a JSON plan."""
    own = [node.get("Index Name", node["Node Type"])] if node.get("Relation Name") else []
    return own + [read for child in node.get("Plans", []) for read in _reads_of_runs(child)]
