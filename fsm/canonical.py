"""The one canonical text form that tradefsm hashes and stores, and SHA-256 over it.

Canonical JSON: keys sorted, no spaces, UTF-8 (non-ASCII kept as is), Decimal values already
turned into strings by the records, timestamps as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and
dates as ``YYYY-MM-DD``. ``docs/audit-integrity.md`` documents every hashed record in terms
of this form.
"""

from __future__ import annotations

import hashlib
import json.encoder
from datetime import UTC, datetime
from typing import Any

# The string encoder json.dumps uses with ensure_ascii=False (C-accelerated where available).
encode_string = json.encoder.encode_basestring
# One encoder, built once: json.dumps builds a new one per call when given options.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the one form that is hashed."""
    return _CANONICAL.encode(value)


def json_text(value: str | None) -> str:
    """A string (or null) as canonical JSON, without going through ``json.dumps``."""
    return "null" if value is None else encode_string(value)


def json_or_text(value: Any) -> str:
    """Canonical JSON of ``value``; a ``str`` is taken as canonical JSON text already stored."""
    if value is None:
        return "null"
    return value if isinstance(value, str) else canonical_json(value)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
