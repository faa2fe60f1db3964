"""meterhub.platform.spreadsheet_csv: OWASP's CSV-injection rule on every cell, read back with the csv module."""

from __future__ import annotations

import csv
import io

import pytest
from meterhub.platform.spreadsheet_csv import SpreadsheetCsvWriter, csv_text, neutralise


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    "value",
    [
        "=2+5",
        '=HYPERLINK("http://x","y")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "\t=1+1",
        "\tplain after a tab",
        "\r=1+1",
        "\rplain after a carriage return",
        "-",
        "+1 555 0100",
        "-1.5+1",
        "-inf",
    ],
)
def test_a_cell_starting_with_a_formula_character_gets_a_quote(value: str) -> None:
    assert neutralise(value) == "'" + value
    assert read_back(csv_text([[value]])) == [["'" + value]]


@pytest.mark.parametrize("value", ["  =1+1", " @SUM(A1)", "\n-2+3", "\u00a0+1"])
def test_leading_whitespace_does_not_hide_a_formula(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["-1.5", "-0.25", "-7", "-3e-05", "-1.25E+10", "-0.0"])
def test_a_plain_negative_number_stays_a_number(value: str) -> None:
    assert neutralise(value) == value
    assert read_back(csv_text([["energy_net_kwh"], [value]])) == [["energy_net_kwh"], [value]]


@pytest.mark.parametrize(("value", "written"), [(-1.5, "-1.5"), (-3e-05, "-3e-05"), (42, "42"), (None, "")])
def test_numbers_and_none_from_the_product_are_written_as_python_prints_them(value: object, written: str) -> None:
    assert neutralise(value) == written


@pytest.mark.parametrize("value", [" -1.5", "-1.5 ", "- 1.5", "-1,5", "-.5", "-1.5.2", "-0x1F"])
def test_only_exactly_a_plain_number_is_exempt(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Boston", "1 Main St, Unit 2", "a=b", "x-1", "'quoted'", "", "12 @ 3", "1.5"])
def test_harmless_cells_are_unchanged(value: str) -> None:
    assert neutralise(value) == value


def test_a_quote_inside_a_cell_is_doubled_and_the_cell_still_neutralised() -> None:
    text = csv_text([['=HYPERLINK("http://x","y")', 'say "hi"']])
    assert text == '"\'=HYPERLINK(""http://x"",""y"")","say ""hi"""\r\n'
    assert read_back(text) == [['\'=HYPERLINK("http://x","y")', 'say "hi"']]


def test_a_newline_inside_a_cell_stays_inside_one_quoted_cell() -> None:
    text = csv_text([["line one\r\nline two", "=1+1\n=2+2"], ["next", "row"]])
    assert read_back(text) == [["line one\r\nline two", "'=1+1\n=2+2"], ["next", "row"]]


def test_the_writer_streams_rows_with_crlf_line_ends() -> None:
    out = io.StringIO()
    writer = SpreadsheetCsvWriter(out)
    writer.writerow(["line", "message"])
    writer.writerows([[2, "@x"], [3, "-1.5"]])
    assert out.getvalue() == "line,message\r\n2,'@x\r\n3,-1.5\r\n"
