"""Which TOML file settings are read from, below the environment (fsm.settings), and what it
says.

Set by the CLI alone, from ``--config`` or ``./tradefsm.toml``: the library reads no file it
was not given. Kept apart so the CLI can set it without importing pydantic-settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection
from contextvars import ContextVar
from pathlib import Path

from fsm.errors import InvalidConfiguration

CONFIG_FILE: ContextVar[Path | None] = ContextVar("tradefsm_config_file", default=None)


def read_config_file(settings: Collection[str]) -> dict[str, object]:
    """The values the config file (``CONFIG_FILE``) gives the ``settings`` it may name, a
    table that names no setting as the options of the plugin it is named after (in
    ``plugin_options``); none without a file. InvalidConfiguration for a file that cannot be
    read or names an unknown setting."""
    path = CONFIG_FILE.get()
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidConfiguration(f"cannot read config file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidConfiguration(
            f"cannot read config file {path}: not UTF-8 text (byte {exc.start})"
        ) from exc
    # A table that is no setting holds the options of the plugin it is named after.
    tables = {k: v for k, v in values.items() if isinstance(v, dict) and k not in settings}
    values = {k: v for k, v in values.items() if k not in tables}
    if tables:
        values["plugin_options"] = {**tables, **values.get("plugin_options", {})}
    unknown = sorted(set(values) - set(settings))
    if unknown:
        raise InvalidConfiguration(
            f"unknown setting {unknown[0]!r} in {path}: keys are the TRADEFSM_* names in lower "
            "case without the prefix (TRADEFSM_DB is db); see docs/configuration.md"
        )
    return values


def source_of(where: str, overrides: dict[str, object], file_values: dict[str, object]) -> str:
    """Where the value of setting ``where`` came from, as an error message says it."""
    if where in overrides:
        return "given on the command line"
    if f"TRADEFSM_{where.upper()}" not in os.environ and where in file_values:
        return f"in {CONFIG_FILE.get()}"
    return f"environment variable TRADEFSM_{where.upper()}"
