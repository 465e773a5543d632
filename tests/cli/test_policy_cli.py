"""`tradefsm policy` as people use it: a TOML file of changes, refusals in one line, and the
settings that may only tighten the policy."""

from __future__ import annotations

from tests.cli.conftest import Cli, one_line_error

CHANGES = """
max_orders = 20
max_price_move = 0.25

[accounts.small-fund]
max_orders = 60
allowed_symbols = ["spy", "QQQ"]
"""


def test_a_policy_file_applies_what_tightens_and_proposes_what_loosens(ready: Cli) -> None:
    (ready.folder / "policy.toml").write_text(CHANGES, encoding="utf-8")
    done = ready("policy", "apply", "policy.toml", "--actor", "risk-ann", "--reason", "q4", code=9)
    assert "policy version 2 in force (the default policy: max_orders=20, max_price_move=0.25)" \
        in done.stdout  # fmt: skip
    assert "policy change 3 (account small-fund: allowed_symbols=QQQ,SPY, max_orders=60) " \
        "loosens the policy" in done.stdout  # fmt: skip
    history = ready.json("policy", "history", "--json")
    assert [(r["seq"], r["kind"], r["account_id"]) for r in history] == [
        (1, "applied", None), (2, "applied", None), (3, "proposed", "small-fund")]  # fmt: skip
    shown = ready.json("policy", "show", "--account", "small-fund", "--json")
    assert (shown["version"], shown["policy"]["max_orders"]) == (2, 20)  # not yet in force
    ready("policy", "approve", "3", "--actor", "risk-bob", "--reason", "fund mandate")
    shown = ready.json("policy", "show", "--account", "small-fund", "--json")
    assert shown["policy"]["allowed_symbols"] == ["QQQ", "SPY"]
    assert ready.json("policy", "show", "--json")["policy"]["max_orders"] == 20


def test_a_bad_file_records_nothing(ready: Cli) -> None:
    (ready.folder / "bad.toml").write_text("max_orders = 5\nmax_price = -1\n", encoding="utf-8")
    done = ready("policy", "apply", "bad.toml", "--actor", "risk-ann", "--reason", "x", code=2)
    assert one_line_error(done).startswith("error: policy max_price=-1: Input should be greater")
    assert len(ready.json("policy", "history", "--json")) == 1


def test_a_looser_setting_is_refused_in_live_mode_naming_it(ready: Cli) -> None:
    live = {"TRADEFSM_MAX_ORDERS": "500", "TRADEFSM_LIVE_TRADING_ENABLED": "true"}
    done = ready("run", "--mode", "live", code=2, env_extra=live)
    assert one_line_error(done).startswith(
        "error: TRADEFSM_MAX_ORDERS=500 is looser than the risk policy's max_orders=50 "
        "(policy v1): in live mode settings may only tighten the policy"
    )
    assert ready.json("runs", "list", "--format", "json") == []
