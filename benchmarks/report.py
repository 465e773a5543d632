"""One report of every benchmark: the machine, the versions, the date, and the key figures
with their targets (docs/performance.md is this report, written by ``make bench``)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

# (benchmark, figure, what it is, target as text, passes(value) or None when only reported)
KEY_FIGURES: tuple[tuple[str, str, str, str, Any], ...] = (
    ("transition", "engine_us_per_transition_median", "engine µs per persisted transition",
     "—", None),
    ("transition", "raw_sqlite3_us_per_transition_median",
     "raw sqlite3, same writes into bare tables (floor)", "—", None),
    ("transition", "ratio_engine_to_raw", "engine ÷ bare-table floor", "≤ 2.0",
     lambda v: v <= 2.0),
    ("transition", "raw_schema_us_per_transition_median",
     "raw sqlite3, the engine's rows into its schema (floor)", "—", None),
    ("transition", "ratio_engine_to_schema_floor", "engine ÷ same-schema floor", "≤ 2.0",
     lambda v: v <= 2.0),
    ("transition", "engine_effects_us_per_transition_median",
     "engine µs per transition, TRADEFSM_DURABILITY=effects", "—", None),
    ("transition", "ratio_effects_to_strict", "effects ÷ strict", "—", None),
    ("resume", "ratio_large_to_small", "resume time, 10k ÷ 1k runs in the database", "≈ 1",
     None),
    ("audit", "verify_s", "verify 1M ledger rows (s)", "≤ 10", lambda v: v <= 10),
    ("audit", "ratio_verify_to_floor", "verify ÷ raw read + one SHA-256 a row floor", "—",
     None),
    ("audit", "query_ms_max", "slowest audit query (ms)", "≤ 50", lambda v: v <= 50),
    ("audit", "seal_ms_10k", "seal a digest of 10k changed runs (ms)", "≤ 200",
     lambda v: v <= 200),
    ("audit", "ratio_seal_to_floor", "seal ÷ raw read + Merkle tree + signature floor", "—",
     None),
    ("audit", "bundle_export_verify_ms", "export + offline verify of one evidence bundle (ms)",
     "≤ 1000", lambda v: v <= 1000),
    ("scale", "runs_per_s_4", "runs/s with 4 workers (PostgreSQL)", "—", None),
    ("day", "runs_per_s", "runs/s over a day, 2,000 accounts, 2 workers × 8 (PostgreSQL)",
     "—", None),
    ("day", "claim_p99_ms", "claim query p99 through the day (ms)", "≤ 20", lambda v: v <= 20),
    ("day", "cpu_ms_per_run", "worker CPU per run (ms)", "≤ 15", lambda v: v <= 15),
    ("day", "ok", "every run done, each order once, verify intact", "True", lambda v: v is True),
    ("facade", "facade_call_ms", "legacy facade call (ms)", "≤ 3", lambda v: v <= 3),
    ("facade", "constructor_ms", "legacy facade constructor (ms)", "≤ 5", lambda v: v <= 5),
    ("startup", "help_ms", "`tradefsm --help` (ms)", "≤ 250", lambda v: v <= 250),
    ("startup", "version_ms", "`tradefsm --version` (ms)", "≤ 250", lambda v: v <= 250),
    ("startup", "dry_run_ms", "`tradefsm run --mode dry-run` (ms)", "≤ 450", lambda v: v <= 450),
    ("console", "runs_page_ms", "console runs page, 1M-row history (ms)", "≤ 100",
     lambda v: v <= 100),
    ("console", "run_page_ms", "console run page, 1M-row history (ms)", "≤ 100",
     lambda v: v <= 100),
    ("console", "search_by_correlation_id_ms",
     "console search by correlation id, 1M-row history (ms)", "≤ 100", lambda v: v <= 100),
    ("console", "search_by_prefix_ms", "console search by run id prefix, 1M-row history (ms)",
     "≤ 100", lambda v: v <= 100),
    ("console", "approvals_ms", "console approval queue, 1M-row history (ms)", "≤ 100",
     lambda v: v <= 100),
    ("console", "time_in_state_ms", "console time in state, 1M-row history (ms)", "≤ 100",
     lambda v: v <= 100),
    ("console", "verify_page_ms", "console verify page, 1M-row history (ms)", "≤ 100",
     lambda v: v <= 100),
    ("peer", "speedup_vs_dbos", "speed-up over DBOS Transact, 5-step run (×)", "≥ 6",
     lambda v: v >= 6),
    ("groupcommit", "sqlite_16_single_runs_per_s", "16 concurrent runs/s, SQLite, commit each",
     "—", None),
    ("groupcommit", "sqlite_16_group_runs_per_s", "16 concurrent runs/s, SQLite, group commit",
     "—", None),
    ("groupcommit", "sqlite_16_group_transitions_per_commit", "transitions per shared commit",
     "—", None),
    ("replay", "replay_s_10k", "`replay` of 10k recorded runs under a proposed policy (s)",
     "≤ 10", lambda v: v <= 10),
    ("memory", "rss_growth_mib", "RSS growth over 10k runs after the first 100 (MiB)", "≤ 20",
     lambda v: v <= 20),
)  # fmt: skip
# Figures measured by hand (runs too heavy for `make bench`, with their profile): the page
# keeps them under the generated table.
MEASURED = Path(__file__).with_name("measured.md")
PACKAGES = ("SQLAlchemy", "pydantic", "python-statemachine", "psycopg", "starlette")


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.system()} "
        f"{platform.release()}",
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES},
        "results": results,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def markdown(full: dict[str, Any]) -> str:
    rows = []
    for bench, key, what, target, passes in KEY_FIGURES:
        result = full["results"].get(bench, {})
        value = result.get(key)
        verdict = "" if passes is None or value is None else ("met" if passes(value) else "missed")
        if "failed" in result:
            value, verdict = "—", f"failed: {result['failed']}"
        rows.append(f"| {bench} | {what} | {value} | {target} | {verdict} |")
    versions = ", ".join(f"{p} {v}" for p, v in full["versions"].items())
    return (
        "# Performance\n\n"
        "Generated by `make bench` (`python -m benchmarks all --json --markdown "
        "docs/performance.md`); medians over repetitions, each compared with a floor measured "
        "in the same run where one exists (see each benchmark's docstring in `benchmarks/`). "
        "The machine is shared: read ratios, not absolute times. The transition benchmark "
        "has two floors: the same writes into three bare tables, and the rows a real engine "
        "run stored written into the engine's own schema (its indexes and foreign keys); "
        "the gap between them is the schema's cost, the ratio to the second is the engine's "
        "own overhead.\n\n"
        f"- date: {full['date']}\n- machine: {full['machine']}\n"
        f"- Python {full['python']}; {versions}\n\n"
        "| benchmark | figure | value | target | |\n| --- | --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n\n"
        + MEASURED.read_text(encoding="utf-8")
    )
