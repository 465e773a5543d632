"""The JSON log lines scripts read are structlog's, key for key, written without structlog."""

from __future__ import annotations

import json
import logging
import sys

import structlog

from fsm.log import JsonLines


def _structlog_line(record: logging.LogRecord) -> str:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    return formatter.format(record)


def _record(**kwargs: object) -> logging.LogRecord:
    record = logging.getLogger("tradefsm.test").makeRecord(
        "tradefsm.test", logging.WARNING, __file__, 1, "order %s refused", ("o-1",), None,
        extra={"run_id": "run_1", "state": "planning", "amount": object(), "n": 3},
    )  # fmt: skip
    record.__dict__.update(kwargs)
    return record


def _without_time(line: str) -> dict[str, object]:
    fields = json.loads(line)
    assert str(fields.pop("timestamp")).endswith("Z")
    return {k: v if k != "amount" else str(v).split(" at ")[0] for k, v in fields.items()}


def test_a_json_line_has_structlogs_keys_in_structlogs_order() -> None:
    record = _record()
    ours, theirs = JsonLines().format(record), _structlog_line(record)
    assert list(json.loads(ours)) == list(json.loads(theirs))
    assert list(json.loads(ours))[:4] == ["event", "level", "run_id", "state"]
    assert _without_time(ours) == _without_time(theirs)


def test_a_failure_logged_with_its_exception_reads_as_structlog_wrote_it() -> None:
    try:
        raise ValueError("broker said no")
    except ValueError:
        record = _record(exc_info=sys.exc_info())
    ours, theirs = JsonLines().format(record), _structlog_line(record)
    assert list(json.loads(ours)) == list(json.loads(theirs))
    assert json.loads(ours)["exc_info"][1] == "ValueError('broker said no')"
