"""Rendering for people (rich tables) and for scripts (JSON, CSV) on stdout."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from fsm.errors import InvalidInput

# Off a terminal (a pipe, a file) rich would assume 80 columns and wrap ids; allow wide lines
# unless COLUMNS says how wide the reader is.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
stdout = Console(soft_wrap=True, width=_WIDTH)
stderr = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def write_output(path: Path, content: bytes) -> None:
    """Write an --output file; a missing folder, a folder given as the file or a refused
    write is one line (InvalidInput, exit 2), not a traceback."""
    if path.is_dir():
        raise InvalidInput(f"--output {path} is a folder: name a file in it")
    if not path.parent.is_dir():
        raise InvalidInput(f"--output {path}: folder {path.parent} does not exist")
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise InvalidInput(f"cannot write --output {path}: {exc.strerror}") from exc


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


def compact(
    rows: Sequence[dict[str, str]], columns: Sequence[str], title: str, *, wrap: bool
) -> Table:
    """A borderless table for people, like docker's and kubectl's: the last column takes
    what is left of the terminal; without ``wrap`` every cell stays on one line."""
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                show_edge=False, header_style="bold")  # fmt: skip
    for column in columns:
        last = column == columns[-1]
        out.add_column(column.upper(), no_wrap=not (wrap or last), overflow="fold" if wrap
                       else "ellipsis", ratio=1 if last else None)  # fmt: skip
    for row in rows:
        out.add_row(*(row.get(c, "") for c in columns))
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
