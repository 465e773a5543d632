"""Run ids as people type them: shortened in tables, any unique prefix accepted back."""

from __future__ import annotations

from collections.abc import Callable

from fsm.errors import AmbiguousRunId, InvalidInput, RunNotFound

RUN_ID_PREFIX = "run_"
SHORT_ID = 12  # "run_" and 8 hex digits: unique among millions of runs in practice
MIN_PREFIX = 4  # characters after "run_": an empty or tiny prefix (an unset variable) names none


def short_id(run_id: str) -> str:
    """The id as tables show it; any unique prefix is accepted back (see resolve_run_id)."""
    return run_id[:SHORT_ID]


def resolve_run_id(lookup: Callable[[str, int], list[str]], text: str) -> str:
    """The run id that ``text`` names: the id itself or a unique prefix of it, with or
    without ``run_`` (as git and docker take id prefixes). InvalidInput when it has fewer
    than MIN_PREFIX characters after ``run_`` (unless it is a whole id), RunNotFound when none
    matches, AmbiguousRunId (listing a few) when several do."""
    typed = text.lower() if text.isascii() else text  # ids are lower-case ASCII: any case
    prefix = typed if typed.startswith(RUN_ID_PREFIX) else RUN_ID_PREFIX + typed
    found = lookup(prefix, 6)
    if len(prefix) < len(RUN_ID_PREFIX) + MIN_PREFIX and prefix not in found:
        raise InvalidInput(
            f"run id {text!r} is too short: give at least {MIN_PREFIX} characters of the id "
            f"after {RUN_ID_PREFIX!r} (`tradefsm runs list` shows the ids)"
        )
    if text in found or prefix in found:
        return text if text in found else prefix
    if not found:
        raise RunNotFound(
            f"no run {text!r}: `tradefsm runs list` shows the known runs", run_id=text
        )
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
        raise AmbiguousRunId(f"run id prefix {text!r} matches several runs: {shown}; type more")
    return found[0]
