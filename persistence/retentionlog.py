"""The holds and tombstones histories as stored: read, their heads for the next digest, and
their part of `audit verify` (``fsm.holds``, ``fsm.tombstones``, ``fsm.archive``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, Table, select

from fsm import archive, holds, tombstones
from fsm.audit import Finding, FindingKind
from fsm.holds import Hold
from fsm.tombstones import Tombstone
from persistence.errors import translate_errors
from persistence.tables import holds as holds_table
from persistence.tables import tombstones as tombstones_table

Heads = Mapping[str, tuple[int, str]]
_TABLES: dict[str, tuple[Table, FindingKind]] = {
    "holds": (holds_table, "holds_changed"), "tombstones": (tombstones_table, "tombstone_changed"),
}  # fmt: skip


def hold_rows(conn: Connection) -> list[Hold]:
    rows = conn.execute(select(holds_table).order_by(holds_table.c.seq)).mappings()
    return [Hold.model_validate(dict(r)) for r in rows]


def tombstone_rows(conn: Connection) -> list[Tombstone]:
    rows = conn.execute(select(tombstones_table).order_by(tombstones_table.c.seq)).mappings()
    return [Tombstone.model_validate(dict(r)) for r in rows]


def archived(engine: Engine) -> list[Tombstone]:
    with translate_errors(), engine.connect() as conn:
        return tombstone_rows(conn)


def heads(conn: Connection) -> dict[str, tuple[int, str]]:
    """The newest row of each history that has rows, as (seq, hash), for the next digest."""
    out = {}
    for name, (table, _) in _TABLES.items():
        row = conn.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc())
                           .limit(1)).first()  # fmt: skip
        if row is not None:
            out[name] = (int(row[0]), str(row[1]))
    return out


def findings(engine: Engine) -> list[Finding]:
    """Both chains, recomputed."""
    with translate_errors(), engine.connect() as conn:
        return holds.findings(hold_rows(conn)) + tombstones.findings(tombstone_rows(conn))


def anchored_findings(engine: Engine, signed: Heads, sealed: Heads) -> list[Finding]:
    """The rows the newest signed digest sealed must be in the database, unchanged (a removed
    tail is found even when nothing else refers to it), and each tombstone must name the head
    the digests sealed for its run."""
    found = []
    with translate_errors(), engine.connect() as conn:
        for name, (seq, hash_) in signed.items():
            table, kind = _TABLES[name]
            stored = conn.execute(select(table.c.hash).where(table.c.seq == seq)).scalar()
            if stored != hash_:
                problem = "is gone" if stored is None else "is not the row it sealed"
                found.append(Finding(kind, None, f"the newest signed digest sealed the {name} "
                                     f"history up to row {seq}; that row {problem}",
                                     key=f"{name.rstrip('s')} {seq}"))  # fmt: skip
        rows = tombstone_rows(conn)
    return found + tombstones.sealed_findings(rows, dict(sealed))


def archive_findings(engine: Engine, root: Path, keys: Sequence[Ed25519PublicKey]) -> list[Finding]:
    """`audit verify --archive`: every archived run's bundle in ``root``."""
    return archive.findings(root, archived(engine), keys)
