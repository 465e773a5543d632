"""How the CLI shows the library's logs: readable on a terminal, one JSON object per line otherwise.

The library only logs through standard ``logging`` (``tradefsm.*``) with facts in ``extra``; it
installs no handler and prints nothing. This module, called by the CLI alone, renders those
records on stderr with structlog.
"""

from __future__ import annotations

import logging
import sys

from fsm.errors import InvalidConfiguration


class _Rendered(logging.Formatter):
    """Renders records with structlog, imported at the first record (a quiet command, such
    as `--help` or a run on a terminal at WARNING, never pays for the import)."""

    def __init__(self, use_json: bool, colors: bool) -> None:
        super().__init__()
        self.use_json, self.colors = use_json, colors
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._inner is None:
            self._inner = _structlog_formatter(self.use_json, self.colors)
        return self._inner.format(record)


def _structlog_formatter(use_json: bool, colors: bool) -> logging.Formatter:
    import structlog  # noqa: PLC0415  # see _Rendered

    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=colors)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, setting: str = "log level"
) -> None:
    """Log ``tradefsm.*`` records from ``level`` on stderr; an unknown level is a one-line
    InvalidConfiguration naming ``setting`` (where the level came from) and the levels."""
    if level.upper() not in LEVELS:
        raise InvalidConfiguration(
            f"invalid setting {setting}: {level!r} is not a log level ({', '.join(LEVELS)})"
        )
    use_json = not sys.stderr.isatty() if json is None else json
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Rendered(use_json, colors=sys.stderr.isatty()))
    library = logging.getLogger("tradefsm")
    library.handlers[:] = [handler]
    library.setLevel(level.upper())
    library.propagate = False
