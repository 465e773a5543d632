"""The CSV cell rule every export shares: formulas are quoted, numbers stay numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fsm.csvcells import csv_text, safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-", "'-"), ("--5", "'--5"),
     (Decimal("-5"), "-5"), ("-0.25", "-0.25"), (Decimal("-1E+3"), "-1E+3"), (-7, "-7"),
     ("plain", "plain"), (None, ""), ("a=b", "a=b")],
)  # fmt: skip
def test_a_cell_a_spreadsheet_would_run_is_quoted(value: object, written: str) -> None:
    assert safe_cell(value) == written


def test_headers_and_rows_go_through_the_same_rule() -> None:
    assert csv_text([{"actor": "=cmd", "qty": "-3"}], ("actor", "qty")) == (
        "actor,qty\r\n'=cmd,-3\r\n"
    )
