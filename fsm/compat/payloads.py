"""Legacy services return anything: dicts, DTOs, mocks. Read them safely, store summaries."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from fsm.redaction import redact

MAX_REPR = 200
_MISSING = object()


def field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, else the attribute ``key``; ``default`` when absent."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    value = getattr(obj, key, _MISSING)
    return default if value is _MISSING else value


def summarize(obj: Any) -> Any:
    """A JSON-safe, redacted picture of ``obj``; never raises, whatever ``obj`` is."""
    plain = _plain(obj, depth=0)
    try:
        json.dumps(plain)
    except (TypeError, ValueError):
        return _opaque(obj)
    return plain


def _plain(obj: Any, depth: int) -> Any:
    if obj is None or isinstance(obj, bool | int | float):
        return obj
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Decimal):
        return str(obj)
    return _container(obj, depth)


def _container(obj: Any, depth: int) -> Any:
    if depth > 6:
        return _opaque(obj)
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v, depth + 1) for v in obj]
    return _opaque(obj)


def _opaque(obj: Any) -> dict[str, str]:
    """What cannot be serialised is kept as its type and a short, redacted repr."""
    kind = type(obj)
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not break the run: say so instead
        text = f"<repr failed: {type(exc).__name__}>"
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "repr": redact(text)[:MAX_REPR]}
