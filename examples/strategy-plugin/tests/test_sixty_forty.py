"""The strategy alone: its targets, its options, and the entry point tradefsm finds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tradefsm_sixty_forty import FixedWeights, strategy

from fsm.errors import InvalidConfiguration
from fsm.kinds import Mode
from fsm.plugins import STRATEGIES, PluginSetup, installed
from fsm.ports import RunContext
from fsm.settings import Settings

CTX = RunContext(run_id="run_1", account_id="paper", as_of=date(2026, 1, 2), mode=Mode.DRY_RUN)


def test_the_default_targets_are_sixty_forty() -> None:
    signals = strategy(PluginSetup(Settings())).generate(CTX)
    assert {t.symbol: t.weight for t in signals.targets} == {
        "BND": Decimal("0.4"),
        "SPY": Decimal("0.6"),
    }
    assert signals.as_of == CTX.as_of


def test_weights_come_from_the_options() -> None:
    made = strategy(PluginSetup(Settings(), options={"weights": {"GLD": "1"}}))
    assert [t.symbol for t in made.generate(CTX).targets] == ["GLD"]


@pytest.mark.parametrize(
    ("weights", "said"),
    [
        ({"SPY": "0.8", "BND": "0.4"}, "sum to at most 1"),
        ({"SPY": "abc"}, "must be numbers"),
        ({"SPY": "NaN"}, "non-negative"),
        (5, "a table of symbol = weight"),
    ],
)
def test_bad_weights_are_refused_as_bad_configuration(weights: object, said: str) -> None:
    with pytest.raises(InvalidConfiguration, match=said):
        FixedWeights(weights)


def test_tradefsm_finds_the_entry_point() -> None:
    found = {p.name: p for p in installed(STRATEGIES)}
    assert found["sixty-forty"].distribution == "tradefsm-sixty-forty"


def test_a_misspelt_option_is_refused_not_ignored() -> None:
    with pytest.raises(InvalidConfiguration, match=r"unknown option 'weight'.*'weights'"):
        strategy(PluginSetup(Settings(), options={"weight": {"GLD": "1"}}))
