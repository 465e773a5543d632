"""Rendering for people (rich tables) and for scripts (JSON, CSV) on stdout."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from fsm.csvcells import csv_text, text
from fsm.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class _LazyConsole:
    """A rich console made (and rich imported) when first used: a command that prints JSON or
    CSV never loads rich."""

    def __init__(self, **options: Any) -> None:
        self.__dict__["_options"] = options

    @cached_property
    def console(self) -> Console:
        from rich.console import Console  # rich only for output to people

        return Console(**self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.console, name, value)


# Off a terminal (a pipe, a file) rich would assume 80 columns and wrap ids; allow wide lines
# unless COLUMNS says how wide the reader is.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
stdout = cast("Console", _LazyConsole(soft_wrap=True, width=_WIDTH))
stderr = cast("Console", _LazyConsole(stderr=True, soft_wrap=True))


def made(console: Console) -> Console:
    """The rich console itself (made now), for rich's own objects, such as a live display."""
    return console.console if isinstance(console, _LazyConsole) else console


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


OutputOption = Annotated[Path | None, typer.Option(help="Write to this file.")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Overwrite the --output file if it exists.")
]


def write_output(path: Path, content: bytes, *, force: bool) -> None:
    """Write an --output file; an existing file or link, even one pointing nowhere (without
    ``force``), a missing folder, a folder given as the file or a refused write is one line
    (InvalidInput, exit 2)."""
    if path.is_dir():
        raise InvalidInput(f"--output {path} is a folder: name a file in it")
    if path.is_symlink() and not force:
        raise InvalidInput(f"--output {path} is a link: add --force to write where it points")
    if path.exists() and not force:
        raise InvalidInput(f"--output {path} exists: add --force to overwrite it")
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
        sys.stdout.write(csv_text(rows, columns))
    else:
        stdout.print(table(rows, columns, title))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> Table:
    from rich.table import Table  # rich only for output to people

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(text(row.get(c)) for c in columns))
    return out


def compact(
    rows: Sequence[dict[str, str]],
    columns: Sequence[str],
    title: str,
    *,
    wrap: bool,
    widths: Mapping[str, tuple[int, int]] | None = None,
) -> Table:
    """A borderless table for people, like docker's and kubectl's. Without ``wrap`` every row
    stays on one line of the terminal: columns are cut (…) to their bounds in ``widths``
    (min, max), and the last column takes what is left."""
    from rich.table import Table  # rich only for output to people

    out = Table(title=title, title_justify="left", box=None, pad_edge=False, padding=(0, 2, 0, 0),
                header_style="bold")  # fmt: skip
    fitted = {} if wrap else _fit(rows, columns, widths or {}, stdout.width)
    for column in columns:
        out.add_column(column.upper(), no_wrap=not wrap, overflow="fold" if wrap else "ellipsis",
                       width=fitted.get(column))  # fmt: skip
    for row in rows:
        out.add_row(*(row.get(c, "") for c in columns))
    return out


def print_wide(table: Table, rows: Sequence[dict[str, str]], columns: Sequence[str]) -> None:
    """Print ``table`` with each row on one line however narrow the terminal (``--no-trunc``:
    whole ids and messages, for copying and scripts, as docker's ``--no-trunc`` does)."""
    natural = sum(max([len(c), *(len(r.get(c, "")) for r in rows)]) + 2 for c in columns)
    narrow = stdout.width
    stdout.width = max(narrow, natural)
    try:
        stdout.print(table, crop=False)
    finally:
        stdout.width = narrow


def _fit(
    rows: Sequence[dict[str, str]],
    columns: Sequence[str],
    bounds: Mapping[str, tuple[int, int]],
    total: int,
) -> dict[str, int]:
    """Column widths that fit ``total``: each as wide as its content within its bounds, then
    the widest shrunk towards its minimum while the row is too long."""
    natural = {c: max([len(c), *(len(r.get(c, "")) for r in rows)]) for c in columns}
    width = {c: min(natural[c], bounds.get(c, (0, natural[c]))[1]) for c in columns}
    room = total - 2 * len(columns)  # two spaces after each column
    while sum(width.values()) > room:
        shrinkable = [c for c in columns if width[c] > bounds.get(c, (len(c), 0))[0]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda c: width[c])
        width[widest] -= 1
    return width
