"""Failpoints: ``TRADEFSM_FAILPOINTS=name[,name@N][,name:pause]`` stops the process there.

Crash tests use them to stop a real process exactly after a commit or around a broker call,
then resume the run in a new process. ``name@N`` fires on the N-th time the point is reached
(default: the first). A point fires SIGKILL; with ``:pause`` it sends itself SIGSTOP instead,
so a test can look at the files at that instant and let it go on with SIGCONT. Unknown names
are refused so a typo cannot silently disable a test.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from functools import cache

from fsm.errors import InvalidConfiguration
from fsm.machines.names import CREATED

ENV = "TRADEFSM_FAILPOINTS"
ENGINE_POINTS = (
    "attempt.stored",  # after a failed step attempt is committed (before the retry)
    "intents.saved",  # after the order intents are committed, before any broker call
    "broker.before_submit",  # just before an order is sent
    "broker.submitted",  # after the broker accepted an order, before its ack is stored
    "intent.acked",  # after an order's ack is committed
    "broker.filled",  # after the broker reported fills, before they are stored
    "intents.reconciled",  # after the final order statuses are committed
    "retention.bundled",  # after a run's bundle is archived and verified, before its removal
    "commit.unflushed",  # just before a transition commit not flushed to disk (durability)
)
ACTIONS = {"kill": signal.SIGKILL, "pause": signal.SIGSTOP}


def all_failpoints() -> tuple[str, ...]:
    """Every failpoint name: one after each transition's commit, then the engine's own."""
    from fsm.definition import trading_definition  # noqa: PLC0415  # the CLI asks at start-up

    events = (CREATED, *trading_definition().events)
    return tuple(f"transition.{event}" for event in events) + ENGINE_POINTS


@cache
def armed_failpoints() -> dict[str, tuple[int, signal.Signals]]:
    """Each armed point's name → the time it fires (N-th reach) and the signal it sends."""
    raw = os.environ.get(ENV, "")
    if not raw:
        return {}
    armed: dict[str, tuple[int, signal.Signals]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        point, _, action = item.partition(":")
        name, _, nth = point.partition("@")
        if (
            name not in all_failpoints()
            or (nth and not nth.isdigit())
            or action not in ("", *ACTIONS)
        ):
            raise InvalidConfiguration(
                f"unknown failpoint {item!r} in {ENV}: `tradefsm failpoints` lists them"
            )
        armed[name] = (int(nth or 1), ACTIONS[action or "kill"])
    return armed


_reached: Counter[str] = Counter()


def failpoint(name: str) -> None:
    """Stop this process (SIGKILL, or SIGSTOP for ``:pause``) if ``name`` is armed and
    reached for the N-th time."""
    armed = armed_failpoints()
    if name not in armed:
        return
    _reached[name] += 1
    nth, action = armed[name]
    if _reached[name] == nth:
        os.kill(os.getpid(), action)
