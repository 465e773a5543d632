"""Legacy services return anything: dicts, DTOs, mocks. Read them safely, store summaries."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from fsm.errors import InvalidInput
from fsm.records import run_labels
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


def correlation_id(given: Any) -> tuple[str, dict[str, str] | None]:
    """The run's correlation id for what a legacy caller passed, and that value when unusable.

    As in the legacy class, a missing (falsy) id gets a fresh one. Any other value is used as
    its text (``str()``: an int 12345 becomes "12345") when a run accepts it as a correlation
    id (``fsm.records.RunLabels``) and it names more than a memory address; otherwise the
    run gets a fresh id and the value given is kept as its type and a short, redacted repr,
    to be recorded with the run.
    """
    try:
        absent = not given
    except Exception:  # a value whose truth cannot be told is not "absent": its text may do
        absent = False
    if absent:
        return str(uuid.uuid4()), None
    kind: Any = type(given)
    text = text_of(given)
    usable = _is_correlation_id(text) and (
        kind.__str__ is not object.__str__ or kind.__repr__ is not object.__repr__)  # fmt: skip
    if usable:
        return text, None
    return str(uuid.uuid4()), _opaque(given)


def _is_correlation_id(text: str) -> bool:
    try:
        run_labels(correlation_id=text)
    except InvalidInput:
        return False
    return True


def text_of(obj: Any) -> str:
    """``str(obj)``; empty when its ``__str__`` fails."""
    try:
        text = str(obj)
    except Exception:  # a value whose __str__ fails has no text; the caller records it
        text = ""
    return text


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
