"""MkDocs hook (mkdocs.yml): the `\\|` that GitHub needs for a pipe inside a table cell's code
span is a plain `|` on the site, where Python-Markdown keeps such a pipe in its cell already."""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _unescape(span: re.Match[str]) -> str:
    return span.group(0).replace("\\|", "|")


def on_page_markdown(markdown: str, **_: object) -> str:
    lines = markdown.split("\n")
    return "\n".join(
        _CODE_SPAN.sub(_unescape, line) if line.lstrip().startswith("|") else line for line in lines
    )
