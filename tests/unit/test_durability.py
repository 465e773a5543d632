"""Which commits TRADEFSM_DURABILITY flushes: in `effects`, those an outside effect follows."""

from __future__ import annotations

from fsm.durability import flushes
from fsm.kinds import Durability
from fsm.machines.specs import TRADING_SPECS

STATES = TRADING_SPECS.definition.states


def test_strict_flushes_every_commit() -> None:
    assert all(flushes(Durability.STRICT, state, TRADING_SPECS) for state in STATES)


def test_effects_flushes_before_orders_parking_and_the_end_only() -> None:
    flushed = {state for state in STATES if flushes(Durability.EFFECTS, state, TRADING_SPECS)}
    assert flushed == {"executing", "awaiting_approval", "done", "failed"}
