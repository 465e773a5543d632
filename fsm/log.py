"""How the CLI shows the library's logs: readable on a terminal, one JSON object per line otherwise.

The library only logs through standard ``logging`` (``tradefsm.*``) with facts in ``extra``; it
installs no handler and prints nothing. This module, called by the CLI alone, renders those
records on stderr with structlog.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    use_json = not sys.stderr.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    library = logging.getLogger("tradefsm")
    library.handlers[:] = [handler]
    library.setLevel(level.upper())
    library.propagate = False
