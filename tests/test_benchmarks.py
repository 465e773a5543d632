"""The benchmarks keep running (quick mode); their figures are reported, never asserted here."""

from __future__ import annotations

import pytest

from benchmarks import resume, transition


@pytest.mark.parametrize(
    ("module", "keys"),
    [
        (transition, {"engine_us_per_transition_median", "raw_sqlite3_us_per_transition_median",
                      "ratio_engine_to_raw"}),
        (resume, {"resume_ms_1k", "resume_ms_10k", "ratio_large_to_small"}),
    ],
)  # fmt: skip
def test_benchmark_runs_and_reports_its_keys(module: object, keys: set[str]) -> None:
    result = module.run(quick=True)  # type: ignore[attr-defined]
    assert keys <= set(result)
    assert all(result[k] > 0 for k in keys)
