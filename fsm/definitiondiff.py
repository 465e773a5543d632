"""What changed between two machine definitions (`tradefsm definitions diff OLD NEW`).

Works on the canonical form ``MachineDefinition.canonical`` stores (``fsm.definition``):
states, events and guards added or removed, and transitions — keyed by (source, event) —
added, removed or changed (another target, other guards).
"""

from __future__ import annotations

from typing import Any

Canonical = dict[str, Any]


def _transitions(canonical: Canonical) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["source"], t["event"]): t for t in canonical["transitions"]}


def _guards(canonical: Canonical) -> set[str]:
    return {g for t in canonical["transitions"] for g in t["guards"]}


def _added_removed(old: set[str], new: set[str]) -> dict[str, list[str]]:
    return {"added": sorted(new - old), "removed": sorted(old - new)}


def definition_diff(old: Canonical, new: Canonical) -> dict[str, Any]:
    """States, events, guards and transitions added, removed or changed from old to new."""
    before, after = _transitions(old), _transitions(new)
    changed = [
        {"source": k[0], "event": k[1], "target": [before[k]["target"], after[k]["target"]],
         "guards": [before[k]["guards"], after[k]["guards"]]}
        for k in sorted(before.keys() & after.keys())
        if (before[k]["target"], before[k]["guards"]) != (after[k]["target"], after[k]["guards"])
    ]  # fmt: skip
    return {
        "states": _added_removed(set(old["states"]), set(new["states"])),
        "events": _added_removed(set(old["events"]), set(new["events"])),
        "guards": _added_removed(_guards(old), _guards(new)),
        "transitions": {
            "added": [after[k] for k in sorted(after.keys() - before.keys())],
            "removed": [before[k] for k in sorted(before.keys() - after.keys())],
            "changed": changed,
        },
    }


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """The diff for people: ``+`` added, ``-`` removed, ``~`` changed, one line each."""
    lines = []
    for kind in ("states", "events", "guards"):
        lines += [f"+ {kind[:-1]} {name}" for name in diff[kind]["added"]]
        lines += [f"- {kind[:-1]} {name}" for name in diff[kind]["removed"]]
    moves = diff["transitions"]
    for sign, key in (("+", "added"), ("-", "removed")):
        lines += [f"{sign} transition {_move(t)}" for t in moves[key]]
    for t in moves["changed"]:
        (old_target, new_target), (old_guards, new_guards) = t["target"], t["guards"]
        what = [f"target {old_target} → {new_target}"] if old_target != new_target else []
        if old_guards != new_guards:
            what.append(f"guards [{', '.join(old_guards)}] → [{', '.join(new_guards)}]")
        lines.append(f"~ transition {t['source']} --{t['event']}--> : {'; '.join(what)}")
    return lines or ["no difference"]


def _move(t: dict[str, Any]) -> str:
    guards = f" [{', '.join(t['guards'])}]" if t["guards"] else ""
    return f"{t['source']} --{t['event']}--> {t['target']}{guards}"
