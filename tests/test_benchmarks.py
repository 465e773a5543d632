"""The benchmarks keep running (quick mode); their figures are reported, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks import (
    audit,
    console,
    day,
    facade,
    groupcommit,
    memory,
    peer,
    replay,
    resume,
    scale,
    startup,
    transition,
)
from benchmarks.report import MEASURED, markdown, report
from tests.clock_shift.sitecustomize import SHIFT
from tests.postgres_cluster import PostgresCluster


@pytest.mark.parametrize(
    ("module", "keys"),
    [
        pytest.param(transition, {"engine_us_per_transition_median",
                                  "raw_sqlite3_us_per_transition_median", "ratio_engine_to_raw",
                                  "commitment_hashing_us_per_transition",
                                  "raw_schema_us_per_transition_median",
                                  "ratio_engine_to_schema_floor",
                                  "engine_effects_us_per_transition_median",
                                  "ratio_effects_to_strict"},
                     marks=pytest.mark.dated),  # its runs are dated by their clock
        pytest.param(resume, {"resume_ms_1k", "resume_ms_10k", "ratio_large_to_small"},
                     marks=pytest.mark.dated),
        (audit, {"verify_s", "verify_floor_s", "ratio_verify_to_floor", "query_ms_max",
                 "seal_ms_10k"}),
        (facade, {"facade_call_ms", "constructor_ms", "rss_after_100_mib"}),
    ],
)  # fmt: skip
def test_benchmark_runs_and_reports_its_keys(module: object, keys: set[str]) -> None:
    result = module.run(quick=True)  # type: ignore[attr-defined]
    assert keys <= set(result)
    assert all(result[k] > 0 for k in keys)


@pytest.mark.postgres
def test_scale_benchmark_runs_on_the_test_cluster(
    pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = f"postgresql+psycopg://{pg_cluster.user}@127.0.0.1:{pg_cluster.port}/postgres"
    monkeypatch.setenv("TRADEFSM_BENCH_PG_URL", server)
    result = scale.run(quick=True)
    assert {"runs_per_s_1", "runs_per_s_2", "runs_per_s_4", "ratio_2_to_1"} <= set(result)
    assert result["runs_per_s_1"] > 0


def test_startup_benchmark_reports_each_command_and_the_floor() -> None:
    result = startup.run(quick=True)
    assert {"python_ms", "help_ms", "version_ms", "dry_run_ms"} <= set(result)
    assert result["dry_run_ms"] > result["python_ms"] > 0


def test_console_benchmark_serves_the_pages() -> None:
    result = console.run(quick=True)
    assert result["runs_page_ms"] > 0
    assert result["run_page_ms"] > 0
    assert result["verify_page_ms"] > 0
    assert result["diagram_svg_ms"] > 0
    assert result["metrics_scrape_ms"] > 0


def test_memory_benchmark_and_the_report_page() -> None:
    result = memory.run(quick=True)
    assert result["rss_after_all_mib"] > 0
    assert result["rss_after_100_mib"] > 0
    page = markdown(report({"memory": result}))
    assert "| memory | RSS growth over 10k runs after the first 100 (MiB) |" in page
    assert "| transition | engine ÷ same-schema floor | None | ≤ 2.0 |" in page  # not run


def test_peer_benchmark_runs_or_says_why_not() -> None:
    result = peer.run(quick=True)
    if "skipped" in result:  # DBOS Transact comes with the optional bench extra only
        assert "pip install" in result["skipped"]
        return
    assert result["dbos_ms_per_run"] > 0
    assert result["tradefsm_ms_per_run"] > 0


def test_group_commit_benchmark_reports_each_level() -> None:
    result = groupcommit.run(quick=True)
    for threads in groupcommit.LEVELS:
        assert result[f"sqlite_{threads}_single_runs_per_s"] > 0
        assert result[f"sqlite_{threads}_group_transitions_per_commit"] >= 1


def test_replay_benchmark_replays_its_history_and_finds_the_lowered_limit() -> None:
    result = replay.run(quick=True)
    assert result["replay_s_10k"] > 0
    assert result["command_s"] > 0
    assert result["changed"] == result["runs"] // 2  # the larger half of the plan sizes


@pytest.mark.postgres
def test_a_day_runs_every_account_once_and_verifies(
    pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 accounts, 2 workers: every run done, each order at the broker once, verify intact."""
    server = f"postgresql+psycopg://{pg_cluster.user}@127.0.0.1:{pg_cluster.port}/postgres"
    monkeypatch.setenv("TRADEFSM_BENCH_PG_URL", server)
    result = day.run(quick=True, prefill_finished=50)
    assert result["accounts"] == result["done"] == 30
    assert result["orders"] == result["order_intents"] > 0
    assert result["orders_once"]
    assert result["verify_findings"] == 0
    assert result["ok"]
    assert result["runs_per_s"] > 0
    assert result["claim_samples"] > 0
    assert result["connections"] >= 2  # the workers were seen


def test_the_report_page_rates_the_day_and_keeps_its_measured_section() -> None:
    day_figures = {"runs_per_s": 7.16, "claim_p99_ms": 116.6, "cpu_ms_per_run": 102.12, "ok": True}
    page = markdown(report({"day": day_figures}))
    assert "| day | claim query p99 through the day (ms) | 116.6 | ≤ 20 | missed |" in page
    assert "| day | every run done, each order once, verify intact | True | True | met |" in page
    assert "## A rebalance day (`python -m benchmarks day`)" in page
    assert "## Start-up (`python -m benchmarks startup`)" in page


def test_the_performance_page_keeps_the_hand_measured_figures_make_bench_writes_back() -> None:
    """`make bench` rewrites docs/performance.md from the table and benchmarks/measured.md: a
    figure added to the page alone would be lost at the next run."""
    page = (MEASURED.parents[1] / "docs" / "performance.md").read_text(encoding="utf-8")
    assert page.endswith(MEASURED.read_text(encoding="utf-8"))


def test_the_day_benchmark_s_help_lists_its_own_options() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "day", "--help"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for option in ("--accounts", "--workers", "--threads", "--broker-latency-ms", "--json"):
        assert option in done.stdout


def test_a_benchmark_that_trades_runs_on_a_week_end_and_a_failing_one_is_reported() -> None:
    """The facade's runs trade on the always-open calendar: at a Saturday noon the policy's
    default exchange is closed (and every run was refused). A benchmark that fails is named on
    the page with its error instead of ending `make bench` with nothing written."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    saturday = noon - timedelta(days=(noon.weekday() - 5) % 7 or 7)  # the last one before today
    env = {**os.environ, SHIFT: str((saturday - datetime.now(UTC)).total_seconds())}
    command = [sys.executable, "-m", "benchmarks", "facade", "--quick", "--json"]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["facade_call_ms"] > 0
    page = markdown(report({"facade": {"benchmark": "facade", "failed": "AssertionError"}}))
    assert "| facade | legacy facade call (ms) | — | ≤ 3 | failed: AssertionError |" in page
