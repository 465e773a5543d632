"""What of the plugins a run committed differs from a process's own, as a refusal says it."""

from __future__ import annotations

from fsm.runplugins import differences

DEMO = {"name": "demo-momentum", "distribution": "tradefsm", "version": "0.1.0",
        "config_sha256": "a" * 64}  # fmt: skip
FILE = {"name": "csv", "distribution": "tradefsm", "version": "0.1.0", "path": "/p.csv",
        "sha256": "b" * 64}  # fmt: skip


def test_the_same_plugins_differ_in_nothing() -> None:
    both = {"strategy": DEMO, "market_data": FILE}
    assert differences(both, dict(both)) == []


def test_each_difference_is_named_with_both_values_and_hashes_shortened() -> None:
    here = {"strategy": DEMO | {"version": "0.2.0"}, "market_data": FILE | {"sha256": "c" * 64}}
    assert differences({"strategy": DEMO, "market_data": FILE}, here) == [
        "strategy version 0.1.0 (run) vs 0.2.0 (here)",
        f"market_data sha256 {'b' * 12}… (run) vs {'c' * 12}… (here)",
    ]


def test_the_name_comes_first_and_what_one_side_lacks_is_none() -> None:
    bundled = {"name": "bundled", "distribution": "tradefsm", "version": "0.1.0"}
    [said] = differences({"market_data": FILE}, {"market_data": bundled})
    assert said.startswith("market_data name csv (run) vs bundled (here), path /p.csv (run) vs")
    assert "none (here)" in said


def test_runs_from_before_plugins_were_committed_and_silent_engines_are_not_compared() -> None:
    assert differences({}, {"strategy": DEMO}) == []
    assert differences({"strategy": DEMO}, {}) == []
