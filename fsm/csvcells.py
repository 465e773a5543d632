"""CSV for spreadsheets: the one writer of every CSV export (the CLI's and the console's).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
by a spreadsheet as a formula (CSV injection: an actor or reason such as ``=HYPERLINK(...)``
becomes a live link). Such a cell is written with a single quote in front, as OWASP advises,
unless it is a plain number (``-5``, ``-0.25``, ``-1E+3``: what an int or Decimal prints),
which no spreadsheet runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?(E[+-]?\d+)?", re.IGNORECASE)


def text(value: Any) -> str:
    """A value as a table or CSV cell shows it: nothing for None, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def safe_cell(value: Any) -> str:
    """``text(value)``, quoted with a leading ``'`` when a spreadsheet would run it."""
    shown = text(value)
    if shown.startswith(FORMULA_START) and not _NUMBER.fullmatch(shown):
        return "'" + shown
    return shown


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A header line and one line per row, every cell through ``safe_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(c) for c in columns])
    writer.writerows([safe_cell(row.get(c)) for c in columns] for row in rows)
    return out.getvalue()
