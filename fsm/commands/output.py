"""Rendering for people (rich tables) and for scripts (JSON, CSV) on stdout."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

# Off a terminal (a pipe, a file) rich would assume 80 columns and wrap ids; allow wide lines.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format, title: str) -> None:
    if fmt is Format.JSON:
        print_json(list(rows))
    elif fmt is Format.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{c: _cell(r.get(c)) for c in columns} for r in rows])
    else:
        stdout.print(table(rows, columns, title))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> Table:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(_cell(row.get(c)) for c in columns))
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


RUN_COLUMNS = (
    "run_id",
    "state",
    "status",
    "account_id",
    "mode",
    "as_of",
    "created_at",
    "updated_at",
)
LEDGER_COLUMNS = (
    "seq", "event", "source", "target", "accepted", "actor", "occurred_at", "duration_ms",
    "correlation_id", "causation_id", "error_type", "error_message",
)  # fmt: skip
ORDER_COLUMNS = ("client_order_id", "symbol", "side", "qty", "status", "broker_order_id")
