"""`tradefsm halt|unhalt` as a person uses them, and where a halt shows."""

from __future__ import annotations

from tests.cli.conftest import Cli, one_line_error


def test_halt_refuses_runs_shows_everywhere_and_another_person_lifts_it(ready: Cli) -> None:
    halted = ready("halt", "--account", "paper", "--actor", "ops-ann", "--reason", "fat finger")
    assert "HALTED: account paper halted by ops-ann" in halted.stdout
    assert "cancelled 0 open order(s)" in halted.stdout
    for start in (("run",), ("submit",)):
        refused = ready(*start, code=11)
        assert "starting a run refused: account paper halted by ops-ann" in one_line_error(refused)
    assert "TRADING HALTED: account paper halted by ops-ann" in ready("runs", "list").stdout
    [first, *_] = ready.json("runs", "list", "--format", "json")
    assert first["failure"]["error_type"] == "TradingHalted"
    shown = ready.json("runs", "show", first["run_id"], "--format", "json")
    assert [(h["actor"], h["reason"]) for h in shown["halted"]] == [("ops-ann", "fat finger")]
    assert "HALTED     account paper" in ready("runs", "show", first["run_id"]).stdout
    assert "TRADING HALTED: account paper" in ready("broker", "check").stdout
    assert ready.json("broker", "check", "--json")["halted"]

    same = ready("unhalt", "--account", "paper", "--actor", "ops-ann", "--reason", "ok", code=6)
    assert "unhalt refused: ops-ann halted account paper" in one_line_error(same)
    lifted = ready.json("unhalt", "--account", "paper", "--actor", "risk-bob", "--reason",
                        "checked with the desk", "--json")  # fmt: skip
    assert (lifted["action"], lifted["actor"], lifted["seq"]) == ("unhalt", "risk-bob", 2)
    again = ready("unhalt", "--account", "paper", "--actor", "risk-bob", "--reason", "x", code=2)
    assert "account paper is not halted" in one_line_error(again)
    assert ready.json("run", "--json")["state"] == "done"
    assert "TRADING HALTED" not in ready("runs", "list").stdout
    ready("audit", "verify")


def test_a_halt_of_every_account_needs_a_reason_and_is_recorded_once(ready: Cli) -> None:
    ready("halt", "--actor", "ops-ann", "--reason", " ", code=2)
    ready("halt", "--actor", "ops-ann", "--reason", "market event")
    twice = ready.json("halt", "--actor", "ops-cy", "--reason", "me too", "--json")
    assert (twice["recorded"], twice["halt"]["actor"]) == (False, "ops-ann")
    assert "every account halted by ops-ann" in one_line_error(ready("run", code=11))
