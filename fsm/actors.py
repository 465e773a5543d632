"""Who acts: the one rule for actor names, how two names compare, and the default actor.

Every name that reaches the ledger passes ``actor_name`` — the settings (``--actor`` of `run`,
`submit`, `retry`, `resume`; ``TRADEFSM_ACTOR``), the engine's commands (`cancel`, `approve`,
`reject`) and ``fsm.ledger.sealed``, which builds every new ledger row. docs/approvals.md
states the rule for people.
"""

from __future__ import annotations

import getpass
import os
import socket
import unicodedata

from fsm.errors import InvalidInput

# The ledger's actor column is VARCHAR(128) (persistence/tables.py): a name is refused before
# the database, in characters, so SQLite (which does not enforce the column) and PostgreSQL
# accept exactly the same names.
MAX_ACTOR_LENGTH = 128
PUNCTUATION = "._-:@/' "  # besides letters, digits and combining marks
RULE = (
    f"letters, digits, combining marks and {PUNCTUATION.strip()!r} or single spaces, "
    f"1 to {MAX_ACTOR_LENGTH} characters, from one script"
)
_ALLOWED_CATEGORIES = ("L", "M", "N")


def actor_name(text: str) -> str:
    """The stored form of an actor name: NFKC, surrounding spaces removed and inner runs of
    spaces made one; InvalidInput (one line, exit 2) when the name is not allowed."""
    name = " ".join(part for part in unicodedata.normalize("NFKC", text).split(" ") if part)
    problem = _problem(name)
    if problem:
        shown = ascii(text[:32]) + ("..." if len(text) > 32 else "")
        raise InvalidInput(f"actor name {shown} is not allowed: {problem}; names are {RULE}")
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_ACTOR_LENGTH:
        return f"it has {len(name)} characters"
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf"):
            kind = "control" if category == "Cc" else "invisible format"
            return f"it contains the {kind} character U+{ord(char):04X}"
        if category[0] not in _ALLOWED_CATEGORIES and char not in PUNCTUATION:
            return f"it contains U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"
    if not name.isascii() and _mixed_script_confusable(name):
        return "it mixes scripts with look-alike letters"
    return None


def _mixed_script_confusable(name: str) -> bool:
    # Imported only for a name outside ASCII: its tables take a moment to load.
    from confusable_homoglyphs import confusables  # noqa: PLC0415

    return bool(confusables.is_dangerous(name))


def actor_key(name: str) -> str:
    """What two names are compared by (four eyes): NFKC with case folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


def same_actor(first: str, second: str) -> bool:
    return actor_key(first) == actor_key(second)


def _fitted(kind: str, host: str, pid: int) -> str:
    room = MAX_ACTOR_LENGTH - len(f"{kind}:/{pid}")
    host = "".join(c for c in host if c.isascii() and (c.isalnum() or c in ".-"))[:room]
    return f"{kind}:{host or 'unknown-host'}/{pid}"


def process_actor(kind: str) -> str:
    """A process that moves runs by itself: ``worker:<host>/<pid>``, ``facade:<host>/<pid>``."""
    return _fitted(kind, socket.gethostname(), os.getpid())


def default_actor() -> str:
    """The OS user running the command; ``process:<host>/<pid>`` when it has no valid name."""
    try:
        return actor_name(getpass.getuser())
    except (OSError, KeyError, InvalidInput):
        return process_actor("process")
