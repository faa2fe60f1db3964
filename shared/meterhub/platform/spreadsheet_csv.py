"""The one way the product writes CSV: files that people open in a spreadsheet.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a formula, so a
partner-supplied value such as `=HYPERLINK(...)` or `+cmd|' /C calc'!A0` in an export would run on an
operator's machine (CSV injection). Every cell written here is neutralised by OWASP's rule: a cell whose first
character is `=`, `+`, `-`, `@`, tab or carriage return gets a single quote `'` in front, so the spreadsheet
shows it as text. Leading whitespace does not hide a formula (some spreadsheets trim it before deciding), so a
cell whose first non-whitespace character is one of those is prefixed too.

One exception keeps the files usable as numbers: a cell that is exactly a plain decimal number (`-1.5`,
`-0.25`, `-3e-05`, no spaces, no operators) is written as it is. It cannot be a formula, and prefixing it
would turn every negative value into text for anyone summing a column.

Values are changed only in these files; the JSON APIs return exact values, and files the product keeps for a
partner (an uploaded interval file) are never rewritten.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import TextIO

FORMULA_STARTS = frozenset("=+-@\t\r")
"""OWASP's list of first characters a spreadsheet may treat as the start of a formula."""
PREFIX = "'"
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""What Python writes for a number (`str(-1.5)`, `str(-3e-05)`): safe as it is, and kept numeric."""


def neutralise(value: object) -> str:
    """The cell text for `value`: None is empty, anything a spreadsheet could run as a formula gets `'` first."""
    text = "" if value is None else str(value)
    first = text[:1]
    if first in FORMULA_STARTS:
        risky = _PLAIN_NUMBER.fullmatch(text) is None
    else:
        risky = first.isspace() and text.lstrip()[:1] in FORMULA_STARTS
    return PREFIX + text if risky else text


class SpreadsheetCsvWriter:
    """A csv.writer (RFC 4180 quoting, CRLF line ends) whose every cell goes through `neutralise`."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow(map(neutralise, row))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV file as text, for exports small enough to build in memory."""
    out = io.StringIO()
    SpreadsheetCsvWriter(out).writerows(rows)
    return out.getvalue()
