"""How the CLI shows the library's logs: readable on a terminal, one JSON object per line otherwise.

The library only logs through standard ``logging`` (``tradefsm.*``) with facts in ``extra``; it
installs no handler and prints nothing. This module, called by the CLI alone, renders those
records on stderr: JSON lines for scripts, structlog's console rendering on a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from fsm.errors import InvalidConfiguration

# The attributes every LogRecord has: the others are the facts a call passed in ``extra``.
_RECORD_KEYS = frozenset(logging.LogRecord("name", 0, "pathname", 0, "msg", (), None).__dict__)


class JsonLines(logging.Formatter):
    """One JSON object per record: ``event``, ``level``, the record's ``extra`` facts in the
    order given and a UTC ``timestamp`` (structlog's JSON lines, key for key, without importing
    structlog: scripts read them on every run, so they cost only ``json``). A value JSON cannot
    hold is written as its ``repr``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {"event": record.getMessage()}
        if record.exc_info:
            line["exc_info"] = record.exc_info
        if record.stack_info:
            line["stack_info"] = record.stack_info
        line["level"] = record.levelname.lower()
        line.update((k, v) for k, v in record.__dict__.items() if k not in _RECORD_KEYS)
        line["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return json.dumps(line, default=repr)


class _Rendered(logging.Formatter):
    """Renders records for a terminal with structlog, imported at the first record (a quiet
    command, such as `--help` or a run on a terminal at WARNING, never pays for the import)."""

    def __init__(self, colors: bool) -> None:
        super().__init__()
        self.colors = colors
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._inner is None:
            self._inner = _structlog_formatter(self.colors)
        return self._inner.format(record)


def _structlog_formatter(colors: bool) -> logging.Formatter:
    import structlog  # noqa: PLC0415  # see _Rendered

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=colors),
        ],
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
    handler.setFormatter(JsonLines() if use_json else _Rendered(colors=sys.stderr.isatty()))
    library = logging.getLogger("tradefsm")
    library.handlers[:] = [handler]
    library.setLevel(level.upper())
    library.propagate = False
