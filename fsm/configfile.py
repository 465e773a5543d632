"""Which TOML file settings are read from, below the environment (fsm.settings).

Set by the CLI alone, from ``--config`` or ``./tradefsm.toml``: the library reads no file it
was not given. Kept apart so the CLI can set it without importing pydantic-settings.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

CONFIG_FILE: ContextVar[Path | None] = ContextVar("tradefsm_config_file", default=None)
