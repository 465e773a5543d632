"""Moving a stranded run to the code's machine definition (`tradefsm runs migrate`).

A run keeps the definition it started under (``fsm.pinning``). A migration is safe when the
run's state exists in the new chart, every event the old chart allowed from there is still
defined there, and the checkpoints the state's step reads are of a schema version its spec
accepts (the output model's own, or one listed in ``StateSpec.accepts``). Then one ledger row,
chained like every other, records it: event ``migrated``, source and target the run's state,
``commits`` naming the old and the new definition hash (``definition_from``,
``definition_to``), a ``migration`` decision holding the reason, and the actor; the run row
takes the new hash in the same transaction. `audit verify` explains the run's definition
hash by these rows (``fsm.integrity``). An unsafe migration writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fsm.actors import actor_name
from fsm.clock import Clock
from fsm.errors import InvalidInput, MigrationRefused
from fsm.ledger import process_id, seal
from fsm.pinning import FROM_KEY, MIGRATED_EVENT, TO_KEY, UNFINISHED
from fsm.ports import RunFilter, RunStore
from fsm.records import Checkpoint, GuardDecision, RunRecord
from fsm.spec import SpecSet


@dataclass(frozen=True)
class Migration:
    """Who moves runs to ``specs``' definition, and why."""

    store: RunStore
    specs: SpecSet
    clock: Clock
    actor: str
    reason: str

    def run(self, run_id: str) -> RunRecord:
        """Move one run; MigrationRefused naming every reason it is not safe."""
        run = self.store.get_run(run_id)
        problems = self.problems(run)
        if problems:
            raise MigrationRefused(
                f"run {run_id} cannot move to definition {self._to[:12]}: " + "; ".join(problems),
                run_id=run_id, state=run.state,
            )  # fmt: skip
        return self._commit(run)

    def all_compatible(self) -> tuple[list[RunRecord], dict[str, list[str]]]:
        """Move every stranded run that is safe to move; the others with their reasons."""
        moved, refused = [], {}
        for run in self.store.list_runs(RunFilter(stranded_from=self._to, limit=100_000)):
            problems = self.problems(run)
            if problems:
                refused[run.run_id] = problems
            else:
                moved.append(self._commit(run))
        return moved, refused

    @property
    def _to(self) -> str:
        return self.specs.definition.definition_hash

    def problems(self, run: RunRecord) -> list[str]:
        """Why moving ``run`` to the new definition is not safe (empty: it is)."""
        if run.status not in UNFINISHED:
            return [f"it already ended {run.state}: a finished run keeps its definition"]
        if run.definition_hash == self._to:
            return ["it already runs under that definition"]
        new = self.specs.definition
        if run.state not in new.states:
            return [f"its state {run.state} does not exist in the new chart"]
        old = self.store.definition(run.definition_hash).canonical
        problems = _lost_events(old, run.state, {e for (s, e) in new.transitions if s == run.state})
        problems += self._checkpoint_problems(run.state, self.store.checkpoints(run.run_id))
        if _driven(run, self.clock.now(), self.specs):
            problems.append(f"a live process ({run.lease_owner}) holds its lease: stop it first")
        return problems

    def _checkpoint_problems(self, state: str, checkpoints: Sequence[Checkpoint]) -> list[str]:
        spec = self.specs.get(state)
        if spec is None:
            return []
        problems = []
        for used in spec.uses:
            own = self.specs[used].schema_version if used in self.specs else None
            accepted = {*spec.accepts, *([] if own is None else [own])}
            problems += [
                f"its {used} checkpoint is schema version {cp.schema_version}, which the "
                f"{state} step does not accept ({', '.join(map(str, sorted(accepted)))})"
                for cp in checkpoints
                if cp.state == used and cp.schema_version not in accepted
            ]
        return problems

    def _commit(self, run: RunRecord) -> RunRecord:
        actor, reason = actor_name(self.actor), self.reason.strip()
        if not reason:
            raise InvalidInput("a migration needs a reason (--reason TEXT)")
        self.store.ensure_definition(self.specs.definition)
        now, seq = self.clock.now(), run.version + 1
        decision = GuardDecision(name="migration", passed=True, reason=reason,
                                 inputs={"from": run.definition_hash, "to": self._to})  # fmt: skip
        entry = seal(
            run.head_hash, run_id=run.run_id, seq=seq, event=MIGRATED_EVENT, source=run.state,
            target=run.state, accepted=True, guards=(decision,), actor=actor,
            correlation_id=run.correlation_id, causation_id="command:migrate", occurred_at=now,
            commits={FROM_KEY: run.definition_hash, TO_KEY: self._to}, process=process_id(),
        )  # fmt: skip
        moved = run.model_copy(update={"definition_hash": self._to, "version": seq,
                                       "head_hash": entry.hash, "updated_at": now})  # fmt: skip
        self.store.repin_run(moved, entry)
        return moved


def _lost_events(old: dict[str, Any], state: str, kept: set[str]) -> list[str]:
    """Events the old chart allowed from ``state`` that the new one no longer defines."""
    left = sorted({t["event"] for t in old["transitions"] if t["source"] == state} - kept)
    return [f"event {event} from {state} is no longer defined" for event in left]


def _driven(run: RunRecord, now: datetime, specs: SpecSet) -> bool:
    """Whether a live lease holds the run (a parked run's lease is released)."""
    expires = run.lease_expires_at
    held = run.lease_owner is not None and expires is not None and expires > now
    return held and run.state not in specs.parked_states
