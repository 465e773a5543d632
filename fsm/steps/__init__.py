"""One module per state's step. Analysis and planning are pure functions."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from fsm.errors import InvalidStepOutput

M = TypeVar("M", bound=BaseModel)


def validate_output(model: type[M], value: object, *, state: str) -> M:
    """Return ``value`` as ``model`` or raise InvalidStepOutput with a one-line reason."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "output"
        raise InvalidStepOutput(
            f"step output of {state} is not a valid {model.__name__}: {where}: {first['msg']}"
            f" ({exc.error_count()} error(s))",
            state=state,
        ) from exc
