"""Which transition commits are flushed to disk before the run goes on (TRADEFSM_DURABILITY).

``strict`` flushes every commit. ``effects`` flushes the commits an effect outside the run
database follows: entering a state whose step cannot simply be done again (orders are sent
there and reconciled on resume, or a person is asked) and ending the run (its outcome is
reported). Every other transition is followed only by the engine's own work, which a resume
redoes from the transition before it when a power loss took the commit away; any later
flushed commit makes it durable too (docs/resume.md).
"""

from __future__ import annotations

from fsm.kinds import Durability
from fsm.spec import SpecSet

REDONE_ON_RESUME = ("re-enter", "reuse checkpoint")  # a step a resume may simply run again


def flushes(durability: Durability, target: str, specs: SpecSet) -> bool:
    """Whether the commit that moves a run to ``target`` must be on disk when it returns."""
    if durability is Durability.STRICT or target in specs.definition.final_states:
        return True
    return specs[target].on_resume not in REDONE_ON_RESUME
