"""`audit export --bundle`: one run's records, the digest that covers it and the proof."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from fsm import bundle, merkle
from fsm.errors import InvalidConfiguration, RunNotFound
from persistence.errors import translate_errors
from persistence.seal import covered, last_document
from persistence.tables import definitions
from persistence.verify import Span, Unreadables, span_records


def export_bundle(engine: Engine, run_id: str, folder: Path) -> list[Path]:
    """Write the evidence bundle of ``run_id`` into ``folder``; the run must be sealed at its
    current head by the newest digest (version 2)."""
    with translate_errors(run_id), engine.connect() as conn:
        last = last_document(conn)
        if last is None or last["version"] < 2:
            raise InvalidConfiguration(f"no digest proves which runs exist yet: `audit seal` "
                                       f"first, then export run {run_id}")  # fmt: skip
        heads, _ = covered(conn, last)
        records = next(span_records(engine, Span(run_id=run_id), Unreadables()), None)
        if records is None or records.run is None:
            raise RunNotFound(f"no run {run_id!r} in the database", run_id=run_id)
        definition = conn.execute(
            select(definitions.c.definition_hash, definitions.c.canonical).where(
                definitions.c.definition_hash == records.run["definition_hash"]
            )
        ).one()
    if heads.get(run_id) != (records.run["version"], records.run["head_hash"]):
        raise InvalidConfiguration(f"run {run_id} changed since the newest digest (or was never "
                                   "sealed): `audit seal` first")  # fmt: skip
    return bundle.write(bundle.Bundle(records, {
        "definition_hash": definition.definition_hash,
        "canonical": bundle.stored_text(definition.canonical),
    }, last, _proof(heads, run_id)), folder)  # fmt: skip


def _proof(heads: dict[str, tuple[int, str]], run_id: str) -> dict[str, Any]:
    leaves = merkle.sorted_leaves(heads)
    index = next(k for k, leaf in enumerate(leaves) if leaf[0] == run_id)
    return {
        "leaf": list(leaves[index]), "index": index, "tree_size": len(leaves),
        "path": merkle.inclusion_proof(merkle.levels(leaves), index),
    }  # fmt: skip
