"""The streaming interval-file validator: every code on a minimal file, every kind of bad input, the caps."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from meterhub.intervals.rules.codes import OUR_CODES, Column, ErrorCode
from meterhub.intervals.rules.csv_source import Source
from meterhub.intervals.rules.model import (
    IntervalRow,
    MeterLookup,
    MeterLookupError,
    MeterStatus,
    MeterVerdict,
    RowError,
    SourceReadError,
)
from meterhub.intervals.rules.numbers import parse_decimal
from meterhub.intervals.rules.slots import DayKey, DaySlots, group_by_day, merge_day
from meterhub.intervals.rules.validation_report import ValidationReport
from meterhub.intervals.rules.validator import IntervalFileValidator, validate
from meterhub.intervals.use_cases.meter_lookup import repository_lookup
from meterhub.meters.records import MeterRecord

from tests.fakes.meters import InMemoryMeterRepository

pytestmark = pytest.mark.usefixtures("no_network")

NOW = datetime(2025, 12, 1, 0, 5, tzinfo=UTC)
METER = "11111111-1111-4111-8111-111111111111"
ERCOT_METER = "22222222-2222-4222-8222-222222222222"
UNKNOWN = "33333333-3333-4333-8333-333333333333"
METER_2 = "77777777-7777-4777-8777-777777777777"
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region"
)
VERDICTS = {
    METER: MeterVerdict(MeterStatus.OK, regions=frozenset({"MA", "ISONE"})),
    METER_2: MeterVerdict(MeterStatus.OK, regions=frozenset({"MA", "ISONE"})),
    ERCOT_METER: MeterVerdict(MeterStatus.NO_PARTNER_DATA, supplier="the ISO"),
}

Found = list[tuple[int, str | None, ErrorCode]]


def lookup(meter_id: str) -> MeterVerdict:
    return VERDICTS.get(meter_id, MeterVerdict(MeterStatus.UNKNOWN))


def row(**cells: str) -> str:
    """A valid data line for METER at 2025-06-01 00:00Z; keyword arguments replace cells by column name."""
    values = {
        "meter_id": METER,
        "interval_start_time_utc": "2025-06-01T00:00:00Z",
        "interval_end_time_utc": "2025-06-01T00:15:00Z",
        "energy_net_kwh": "0.5",
        "energy_consumed_kwh": "1.5",
        "energy_generated_kwh": "1.0",
        "final": "true",
        "region": "MA",
    }
    for name, value in cells.items():
        values[name.replace("__", "_")] = value
    return ",".join(values[name] for name in HEADER.split(","))


def at(slot: int, day: str = "2025-06-01") -> dict[str, str]:
    """Start and end cells of slot `slot` of `day`."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(minutes=15 * slot)
    return {
        "interval_start_time_utc": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "interval_end_time_utc": (start + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def csv_bytes(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def run(source: Source, meters: MeterLookup = lookup, **options: Any) -> tuple[list[IntervalRow], ValidationReport]:
    return validate(source, meters, now=NOW, **options)


def found(report: ValidationReport) -> Found:
    return [(error.line, error.column, error.code) for error in report.errors]


# ----- every row code on a minimal file ------------------------------------------------------------------

ROW_CASES: list[tuple[dict[str, str], Found]] = [
    ({"meter_id": "not-a-uuid"}, [(2, "meter_id", ErrorCode.MTR_0002)]),
    ({"meter_id": ""}, [(2, "meter_id", ErrorCode.MTR_0002)]),
    ({"meter_id": "{" + METER + "}"}, [(2, "meter_id", ErrorCode.MTR_0002)]),
    ({"meter_id": UNKNOWN}, [(2, "meter_id", ErrorCode.MTR_0003)]),
    ({"meter_id": ERCOT_METER}, [(2, "meter_id", ErrorCode.MTR_0004)]),
    ({"interval_start_time_utc": "yesterday"}, [(2, Column.START, ErrorCode.STM_0002)]),
    ({"interval_start_time_utc": ""}, [(2, Column.START, ErrorCode.STM_0002)]),
    ({"interval_start_time_utc": "2025-02-30T00:00:00Z"}, [(2, Column.START, ErrorCode.STM_0002)]),
    ({"interval_end_time_utc": "5:00"}, [(2, Column.END, ErrorCode.ETM_0002)]),
    (
        {"interval_start_time_utc": "2025-06-01T00:07:00Z", "interval_end_time_utc": "2025-06-01T00:22:00Z"},
        [(2, Column.START, ErrorCode.STM_0003), (2, Column.END, ErrorCode.ETM_0003)],
    ),
    (
        {"interval_start_time_utc": "2025-06-01T00:00:30Z", "interval_end_time_utc": "2025-06-01T00:15:30Z"},
        [(2, Column.START, ErrorCode.STM_0003), (2, Column.END, ErrorCode.ETM_0003)],
    ),
    ({"interval_end_time_utc": "2025-06-01T00:14:00Z"}, [(2, Column.END, ErrorCode.ETM_0003)]),
    ({"interval_end_time_utc": "2025-06-01T00:30:00Z"}, [(2, Column.END, ErrorCode.DTR_0003)]),
    ({"interval_end_time_utc": "2025-06-01T00:00:00Z"}, [(2, Column.END, ErrorCode.DTR_0003)]),
    ({"energy_net_kwh": "abc"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "nan"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "1,5"}, [(2, None, ErrorCode.LIN_0002)]),
    ({"energy_consumed_kwh": "x1"}, [(2, Column.CONSUMED, ErrorCode.CON_0002)]),
    ({"energy_consumed_kwh": "-1.5", "energy_net_kwh": "-2.5"}, [(2, Column.CONSUMED, ErrorCode.CON_0003)]),
    ({"energy_generated_kwh": "inf"}, [(2, Column.GENERATED, ErrorCode.GEN_0002)]),
    ({"energy_generated_kwh": "-1", "energy_net_kwh": "2.5"}, [(2, Column.GENERATED, ErrorCode.GEN_0003)]),
    # Numbers float() reads that are not plain ASCII decimals (see meterhub.intervals.rules.numbers)
    ({"energy_net_kwh": "1_000"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "\u0661.\u0662"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "1e308"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "5E-01"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "NaN"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_net_kwh": "-Infinity"}, [(2, Column.NET, ErrorCode.NET_0002)]),
    ({"energy_consumed_kwh": "1_5"}, [(2, Column.CONSUMED, ErrorCode.CON_0002)]),
    ({"energy_consumed_kwh": "\u0661.\u0665"}, [(2, Column.CONSUMED, ErrorCode.CON_0002)]),
    ({"energy_consumed_kwh": "Infinity"}, [(2, Column.CONSUMED, ErrorCode.CON_0002)]),
    ({"energy_generated_kwh": "1e0"}, [(2, Column.GENERATED, ErrorCode.GEN_0002)]),
    ({"energy_generated_kwh": "NaN"}, [(2, Column.GENERATED, ErrorCode.GEN_0002)]),
    # Beyond the plausibility bound of one 15-minute interval (1,000,000 kWh), in the value's own column
    ({"energy_net_kwh": "1000000.001"}, [(2, Column.NET, ErrorCode.NRG_0004)]),
    ({"energy_net_kwh": "-2000000"}, [(2, Column.NET, ErrorCode.NRG_0004)]),
    ({"energy_net_kwh": "9" * 400}, [(2, Column.NET, ErrorCode.NRG_0004)]),
    ({"energy_net_kwh": "", "energy_consumed_kwh": "1500000"}, [(2, Column.CONSUMED, ErrorCode.NRG_0004)]),
    ({"energy_net_kwh": "", "energy_generated_kwh": "1000001"}, [(2, Column.GENERATED, ErrorCode.NRG_0004)]),
    ({"energy_net_kwh": "", "energy_generated_kwh": "-2000000"}, [(2, Column.GENERATED, ErrorCode.GEN_0003)]),
    ({"energy_net_kwh": "", "energy_generated_kwh": ""}, [(2, Column.NET, ErrorCode.NRG_0001)]),
    (
        {"energy_net_kwh": "", "energy_consumed_kwh": "", "energy_generated_kwh": ""},
        [(2, Column.NET, ErrorCode.NRG_0001)],
    ),
    ({"energy_net_kwh": "5"}, [(2, Column.NET, ErrorCode.NRG_0003)]),
    ({"region": "M4"}, [(2, Column.REGION, ErrorCode.REG_0002)]),
    ({"region": "New York"}, [(2, Column.REGION, ErrorCode.REG_0002)]),
    ({"region": "ZZ"}, [(2, Column.REGION, ErrorCode.REG_0003)]),
    ({"region": "NY"}, [(2, Column.REGION, ErrorCode.REG_0003)]),
    ({"final": "maybe"}, [(2, Column.FINAL, ErrorCode.FNL_0002)]),
]


@pytest.mark.parametrize(("cells", "expected"), ROW_CASES, ids=[str(case[1][0][2]) for case in ROW_CASES])
def test_each_row_code_is_reported_with_its_line_and_column(cells: dict[str, str], expected: Found) -> None:
    # Given a file whose only data row breaks one rule
    data = csv_bytes(HEADER, row(**cells))

    # When it is validated
    rows, report = run(data)

    # Then exactly that code is reported on line 2, under its column, and no row is valid
    assert found(report) == expected
    assert rows == []
    assert (report.rows_total, report.rows_valid, report.rows_invalid) == (1, 0, 1)
    assert report.finished and not report.ok


@pytest.mark.parametrize(("cells", "expected"), ROW_CASES, ids=[str(case[1][0][2]) for case in ROW_CASES])
def test_each_row_code_is_reported_after_the_same_values_were_seen_valid(
    cells: dict[str, str], expected: Found
) -> None:
    # Given two valid rows that make every default cell known (meter, timestamps, numbers, final, region),
    # so the bad row is first tried on the fast path
    warm_up = (row(**at(1)), row(meter_id=METER_2))
    data = csv_bytes(HEADER, *warm_up, row(**cells))

    # When it is validated
    rows, report = run(data)

    # Then the bad row gets exactly the same codes, on its line 4
    assert found(report) == [(4, column, code) for _, column, code in expected]
    assert len(rows) == 2 and report.rows_invalid == 1


def test_a_valid_row_is_parsed_to_utc_values() -> None:
    # Given a valid row
    data = csv_bytes(HEADER, row(final="TRUE"))

    # When it is validated
    rows, report = run(data)

    # Then it comes out parsed, with its UTC day and slot
    assert report.ok and report.errors == []
    assert rows == [IntervalRow(METER, datetime(2025, 6, 1, tzinfo=UTC), date(2025, 6, 1), 0, 0.5, 1.5, 1.0, True)]


def test_a_row_with_several_problems_gets_every_code() -> None:
    # Given one row wrong in five columns
    line = row(meter_id=UNKNOWN, interval_start_time_utc="soon", energy_consumed_kwh="-2", final="?", region="XX")

    # When it is validated
    _, report = run(csv_bytes(HEADER, line))

    # Then each problem is reported once, in column order
    assert found(report) == [
        (2, "meter_id", ErrorCode.MTR_0003),
        (2, Column.START, ErrorCode.STM_0002),
        (2, Column.CONSUMED, ErrorCode.CON_0003),
        (2, Column.FINAL, ErrorCode.FNL_0002),
        (2, Column.REGION, ErrorCode.REG_0003),
    ]
    assert report.rows_invalid == 1


def test_a_short_line_is_lin_0001_and_nothing_else() -> None:
    # Given a line with three fields under an eight-column header
    data = csv_bytes(HEADER, f"{METER},2025-06-01T00:00:00Z,x")

    # When it is validated
    _, report = run(data)

    # Then the line is LIN_0001, without column codes for values that are in the wrong place anyway
    assert found(report) == [(2, None, ErrorCode.LIN_0001)]


@pytest.mark.parametrize("extra", [",", ",,", ", "])
def test_trailing_empty_fields_are_accepted(extra: str) -> None:
    # Given a row ending in empty fields (as spreadsheets export them)
    data = csv_bytes(HEADER, row() + extra)

    # When it is validated
    rows, report = run(data)

    # Then the row is valid
    assert report.ok and len(rows) == 1


def test_an_unexpected_failure_on_one_row_is_uncategorised_and_the_next_rows_are_checked() -> None:
    # Given a lookup that answers garbage for one meter (a bug somewhere), and a second, valid row
    def broken(meter_id: str) -> MeterVerdict:
        return cast(MeterVerdict, object()) if meter_id == UNKNOWN else lookup(meter_id)

    data = csv_bytes(HEADER, row(meter_id=UNKNOWN), row(**at(1)))

    # When it is validated
    rows, report = run(data, broken)

    # Then line 2 is UNCATEGORISED and line 3 is still validated
    assert found(report) == [(2, None, ErrorCode.UNCATEGORISED)]
    assert len(rows) == 1 and report.finished


# ----- header -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "code"),
    [
        (("meter_id",), ErrorCode.MTR_0001),
        (("interval_start_time_utc",), ErrorCode.STM_0001),
        (("interval_end_time_utc",), ErrorCode.ETM_0001),
        (("energy_net_kwh", "energy_consumed_kwh"), ErrorCode.NRG_0001),
        (("energy_net_kwh", "energy_generated_kwh"), ErrorCode.NRG_0001),
    ],
)
def test_a_missing_required_column_is_its_0001_code_on_line_1(dropped: tuple[str, ...], code: ErrorCode) -> None:
    # Given a header without the column(s)
    header = ",".join(name for name in HEADER.split(",") if name not in dropped)

    # When the file is validated
    rows, report = run(csv_bytes(header, "a,b,c,d,e,f"))

    # Then the code is reported on line 1 and no row is read
    assert found(report) == [(1, code.column, code)]
    assert report.fatal is not None and report.fatal.code == code
    assert rows == [] and report.rows_total == 0


def test_every_missing_required_column_is_reported() -> None:
    # Given a header with none of the required columns
    _, report = run(csv_bytes("final,region", "true,MA"))

    # Then each missing one is named
    assert [error.code for error in report.errors] == [
        ErrorCode.MTR_0001,
        ErrorCode.STM_0001,
        ErrorCode.ETM_0001,
        ErrorCode.NRG_0001,
    ]


@pytest.mark.parametrize(
    "header",
    [
        ",".join(reversed(HEADER.split(","))),
        " Meter_ID , INTERVAL_START_TIME_UTC,Interval_End_Time_Utc,energy_net_kwh,energy_consumed_kwh,"
        "energy_generated_kwh,Final,REGION",
    ],
    ids=["reversed", "case-and-spaces"],
)
def test_columns_are_found_by_name_in_any_order_and_case(header: str) -> None:
    # Given the same row under a header in another order or spelling
    names = [name.strip().lower() for name in header.split(",")]
    values = dict(zip(HEADER.split(","), row().split(","), strict=True))
    line = ",".join(values[name] for name in names)

    # When it is validated
    rows, report = run(csv_bytes(header, line))

    # Then it parses to the same row
    assert report.ok
    assert rows == run(csv_bytes(HEADER, row()))[0]


@pytest.mark.parametrize(
    "columns",
    [
        ("meter_id", "interval_start_time_utc", "interval_end_time_utc", "energy_net_kwh"),
        ("meter_id", "interval_start_time_utc", "interval_end_time_utc", "energy_consumed_kwh", "energy_generated_kwh"),
    ],
    ids=["net-only", "consumed-and-generated"],
)
def test_either_energy_column_set_is_enough(columns: tuple[str, ...]) -> None:
    # Given a file with only one of the valid energy column sets (no final, no region)
    values = dict(zip(HEADER.split(","), row().split(","), strict=True))
    data = csv_bytes(",".join(columns), ",".join(values[name] for name in columns))

    # When it is validated
    rows, report = run(data)

    # Then the row is valid and not final
    assert report.ok and len(rows) == 1 and rows[0].final is False


@pytest.mark.parametrize("other", ["energy_consumed_kwh", "energy_generated_kwh"])
def test_net_with_one_of_consumed_or_generated_checks_both_columns(other: str) -> None:
    # Given a header with net and only one of the pair, a valid row and a row with a negative other value
    columns = ("meter_id", "interval_start_time_utc", "interval_end_time_utc", "energy_net_kwh", other)
    values = dict(zip(HEADER.split(","), row().split(","), strict=True))
    bad = dict(zip(HEADER.split(","), row(**at(1)).split(","), strict=True)) | {other: "-1"}
    data = csv_bytes(",".join(columns), *(",".join(cells[name] for name in columns) for cells in (values, bad)))

    # When it is validated
    rows, report = run(data)

    # Then the first row is valid (net given) and the negative value is reported
    code = ErrorCode.CON_0003 if other == "energy_consumed_kwh" else ErrorCode.GEN_0003
    assert len(rows) == 1 and rows[0].net_kwh == 0.5
    assert found(report) == [(3, other, code)]


@pytest.mark.parametrize(
    ("columns", "bad", "expected"),
    [
        (("energy_net_kwh",), {"energy_net_kwh": "nan"}, (Column.NET, ErrorCode.NET_0002)),
        (("energy_net_kwh",), {"energy_net_kwh": "-inf"}, (Column.NET, ErrorCode.NET_0002)),
        (("energy_net_kwh",), {"energy_net_kwh": ""}, (Column.NET, ErrorCode.NRG_0001)),
        (
            ("energy_consumed_kwh", "energy_generated_kwh"),
            {"energy_consumed_kwh": "-1"},
            (Column.CONSUMED, ErrorCode.CON_0003),
        ),
        (
            ("energy_consumed_kwh", "energy_generated_kwh"),
            {"energy_generated_kwh": "-1"},
            (Column.GENERATED, ErrorCode.GEN_0003),
        ),
        (
            ("energy_consumed_kwh", "energy_generated_kwh"),
            {"energy_generated_kwh": " "},
            (Column.NET, ErrorCode.NRG_0001),
        ),
    ],
)
def test_bad_energy_after_valid_rows_in_a_file_with_one_energy_set(
    columns: tuple[str, ...], bad: dict[str, str], expected: tuple[str, ErrorCode]
) -> None:
    # Given a file with only net, or only consumed and generated, two valid rows that make the meter and
    # the timestamps known, then a bad value (so the fast path sees it first)
    names = ("meter_id", "interval_start_time_utc", "interval_end_time_utc", *columns)
    lines = []
    for cells in (row(**at(1)), row(meter_id=METER_2), row(**bad)):
        values = dict(zip(HEADER.split(","), cells.split(","), strict=True))
        lines.append(",".join(values[name] for name in names))

    # When it is validated
    rows, report = run(csv_bytes(",".join(names), *lines))

    # Then the bad value is reported on line 4
    assert len(rows) == 2
    assert found(report) == [(4, *expected)]


def test_unknown_extra_columns_are_ignored_and_reported() -> None:
    # Given two extra columns around the schema's
    data = csv_bytes("site_name," + HEADER + ",Notes", "Depot 4," + row() + ",ok")

    # When it is validated
    rows, report = run(data)

    # Then the row is valid and the extra columns are listed for the feedback file
    assert report.ok and len(rows) == 1
    assert report.unknown_columns == ["site_name", "Notes"]


def test_a_column_named_twice_stops_the_file() -> None:
    # Given a header with final twice
    _, report = run(csv_bytes(HEADER + ",final", row() + ",false"))

    # Then it is FIL_0005 on line 1
    assert found(report) == [(1, None, ErrorCode.FIL_0005)]


# ----- file shapes and encodings ---------------------------------------------------------------------


def test_utf8_bom_is_dropped() -> None:
    # Given a file starting with a UTF-8 BOM
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, row())

    # When it is validated
    rows, report = run(data)

    # Then the first column is still found and the row is valid
    assert report.ok and len(rows) == 1 and report.unknown_columns == []


def test_crlf_lines_are_read_and_numbered_like_lf() -> None:
    # Given a CRLF file whose third line is bad
    data = csv_bytes(HEADER, row(), row(energy_net_kwh="x", **at(1)), newline="\r\n")

    # When it is validated
    rows, report = run(data)

    # Then the good row passes and the bad one is reported on line 3
    assert len(rows) == 1
    assert found(report) == [(3, Column.NET, ErrorCode.NET_0002)]


def test_quoted_fields_may_hold_commas_quotes_and_line_breaks() -> None:
    # Given quoted values, one note spanning two physical lines, then a bad row
    data = csv_bytes(
        HEADER + ",note",
        row() + ',"Depot 4, ""north"" gate"',
        row(**at(1)) + ',"first line',
        'second line"',
        row(final="?", **at(2)) + ",",
    )

    # When it is validated
    rows, report = run(data)

    # Then the quoted rows are valid and the bad row's line is its physical line (5)
    assert len(rows) == 2
    assert found(report) == [(5, Column.FINAL, ErrorCode.FNL_0002)]


def test_semicolon_delimited_file_is_fil_0004_only() -> None:
    # Given a file exported with semicolons (and decimal commas)
    data = csv_bytes(HEADER.replace(",", ";"), row(energy_net_kwh="0,5").replace(",", ";"))

    # When it is validated
    _, report = run(data)

    # Then the one error says so, instead of seven missing columns
    assert found(report) == [(1, None, ErrorCode.FIL_0004)]
    assert "semicolons" in report.errors[0].message


def test_tab_delimited_file_is_fil_0004() -> None:
    _, report = run(csv_bytes(HEADER.replace(",", "\t"), row().replace(",", "\t")))
    assert found(report) == [(1, None, ErrorCode.FIL_0004)]


def test_invalid_utf8_stops_the_file_at_its_line_after_checking_the_lines_before() -> None:
    # Given a valid line 2 and a Latin-1 byte on line 3
    data = csv_bytes(HEADER, row()) + b"caf\xe9," + row(**at(1)).encode() + b"\n" + csv_bytes(row(**at(2)))

    # When it is validated
    rows, report = run(data)

    # Then line 2 was checked and line 3 is FIL_0002, which ends the file
    assert len(rows) == 1
    assert found(report) == [(3, None, ErrorCode.FIL_0002)]
    assert report.fatal == report.errors[0] and "UTF-8" in report.fatal.message
    assert report.finished and not report.ok


def test_a_nul_byte_stops_the_file_at_its_line() -> None:
    # Given a NUL byte on line 2
    data = csv_bytes(HEADER) + row().encode().replace(b"true", b"tr\x00ue") + b"\n"

    # When it is validated
    rows, report = run(data)

    # Then it is FIL_0002 on line 2
    assert rows == []
    assert found(report) == [(2, None, ErrorCode.FIL_0002)]
    assert "NUL" in report.errors[0].message


def test_a_line_of_100000_characters_stops_the_file() -> None:
    # Given a valid row, then a 100,000-character line
    data = csv_bytes(HEADER, row(), "x" * 100_000, row(**at(1)))

    # When it is validated
    rows, report = run(data)

    # Then the first row passed, line 3 is FIL_0003 and nothing after it is read
    assert len(rows) == 1
    assert found(report) == [(3, None, ErrorCode.FIL_0003)]
    assert report.rows_total == 1


def test_an_unclosed_quote_running_over_the_field_limit_stops_the_file() -> None:
    # Given a quote that never closes, followed by 200 lines of 1,000 characters
    data = csv_bytes(HEADER, row() + ',"unclosed', *["y" * 1_000] * 200)

    # When it is validated
    _, report = run(data)

    # Then the file ends with FIL_0003 instead of buffering everything
    assert report.fatal is not None and report.fatal.code == ErrorCode.FIL_0003


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(csv_bytes(HEADER, row())), "gzip"),
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
        (HEADER.encode("utf-16"), "UTF-16"),
    ],
    ids=["gzip", "zip", "utf-16"],
)
def test_compressed_or_utf16_content_named_csv_is_fil_0002_on_line_1(data: bytes, reason: str) -> None:
    # When a non-text file is validated
    rows, report = run(data)

    # Then it is refused from its first bytes, saying what it is
    assert rows == []
    assert found(report) == [(1, None, ErrorCode.FIL_0002)]
    assert reason in report.errors[0].message


@pytest.mark.parametrize(("data", "line"), [(b"", 1), (b"\n\n", 1), (csv_bytes(HEADER), 2), (csv_bytes(HEADER, ""), 2)])
def test_empty_file_or_header_only_is_fil_0001(data: bytes, line: int) -> None:
    # When a file without data rows is validated
    rows, report = run(data)

    # Then it is FIL_0001 (nothing would be ingested)
    assert rows == []
    assert found(report) == [(line, None, ErrorCode.FIL_0001)]
    assert report.finished and not report.ok


def test_blank_lines_between_rows_are_skipped_and_not_counted() -> None:
    rows, report = run(csv_bytes(HEADER, row(), "", row(**at(1)), ""))
    assert report.ok and len(rows) == 2 and report.rows_total == 2


# ----- timestamps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2025-06-01T00:00:00Z", "2025-06-01T00:15:00Z"),
        ("2025-06-01T00:00:00+00:00", "2025-06-01T00:15:00+00:00"),
        ("2025-06-01T00:00:00-00:00", "2025-06-01T00:15:00+0000"),
        ("2025-06-01t00:00:00z", "2025-06-01 00:15:00Z"),
        ("2025-06-01T00:00:00.000Z", "2025-06-01T00:15Z"),
        (" 2025-06-01T00:00:00Z ", "2025-06-01T00:15:00Z"),
    ],
)
def test_accepted_utc_timestamp_spellings(start: str, end: str) -> None:
    # When a row uses another accepted UTC spelling
    rows, report = run(csv_bytes(HEADER, row(interval_start_time_utc=start, interval_end_time_utc=end)))

    # Then it is the same interval
    assert report.ok
    assert rows[0].start == datetime(2025, 6, 1, tzinfo=UTC) and rows[0].start.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2025-05-31T20:00:00-04:00", "2025-05-31T20:15:00-04:00", "UTC offset -04:00"),
        ("2025-06-01T02:00:00+02:00", "2025-06-01T02:15:00+02:00", "UTC offset +02:00"),
        ("2025-06-01T00:00:00", "2025-06-01T00:15:00", "no UTC designator"),
        ("20250601T000000Z", "20250601T001500Z", "ISO 8601"),
        ("2025-W22-7T00:00Z", "2025-W22-7T00:15Z", "ISO 8601"),
    ],
)
def test_offsets_other_than_utc_and_other_forms_are_rejected_naming_the_rule(start: str, end: str, words: str) -> None:
    # When a row is in local time with an offset, or has no zone, or another ISO form
    _, report = run(csv_bytes(HEADER, row(interval_start_time_utc=start, interval_end_time_utc=end)))

    # Then both cells are _0002 and the message says why
    assert found(report) == [(2, Column.START, ErrorCode.STM_0002), (2, Column.END, ErrorCode.ETM_0002)]
    assert words in report.errors[0].message


def test_intervals_before_1970_are_ordinary_intervals() -> None:
    rows, report = run(csv_bytes(HEADER, row(**at(95, "1969-12-31")), row(**at(0, "1970-01-01"))))
    assert report.ok and [(r.day.isoformat(), r.slot) for r in rows] == [("1969-12-31", 95), ("1970-01-01", 0)]


@pytest.mark.parametrize("day", ["2025-03-09", "2025-11-02"])
def test_a_us_dst_transition_day_has_96_ordinary_utc_slots(day: str) -> None:
    # Given all 96 intervals of a day on which US clocks change
    data = csv_bytes(HEADER, *(row(**at(slot, day)) for slot in range(96)))

    # When it is validated and grouped by day
    rows, report = run(data)
    days = group_by_day(rows)

    # Then every interval is valid and the day holds 96 slots
    assert report.ok and len(rows) == 96
    assert [r.slot for r in rows] == list(range(96))
    assert list(days) == [(METER, date.fromisoformat(day))]
    assert days[(METER, date.fromisoformat(day))].count == 96


def test_an_interval_ending_after_now_is_in_the_future() -> None:
    # Given the interval 00:00-00:15 validated at 00:05
    cells = {"interval_start_time_utc": "2025-12-01T00:00:00Z", "interval_end_time_utc": "2025-12-01T00:15:00Z"}

    # When it is validated
    _, report = run(csv_bytes(HEADER, row(**cells)))

    # Then the end is in the future (the interval is not over), the start is not
    assert found(report) == [(2, Column.END, ErrorCode.ETM_0003)]
    assert "future" in report.errors[0].message


def test_an_interval_starting_after_now_has_both_codes() -> None:
    cells = at(4, "2025-12-01")
    _, report = run(csv_bytes(HEADER, row(**cells)))
    assert found(report) == [(2, Column.START, ErrorCode.STM_0003), (2, Column.END, ErrorCode.ETM_0003)]


# ----- energies, final, region ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("net", "consumed", "generated", "ok"),
    [
        ("-0.5", "0.5", "1.0", True),
        ("0.5034", "1.5", "1.0", True),
        ("0.4966", "1.5", "1.0", True),
        ("0.5036", "1.5", "1.0", False),
        ("0.4964", "1.5", "1.0", False),
        ("1002", "2000", "1000", True),
        ("1003.1", "2000", "1000", False),
    ],
)
def test_net_must_match_consumed_minus_generated_within_tolerance(
    net: str, consumed: str, generated: str, ok: bool
) -> None:
    # When the three energies are given
    cells = {"energy_net_kwh": net, "energy_consumed_kwh": consumed, "energy_generated_kwh": generated}
    _, report = run(csv_bytes(HEADER, row(**cells)))

    # Then they conflict only beyond 0.002 kWh + 0.1 % of the larger of consumed and generated
    assert found(report) == ([] if ok else [(2, Column.NET, ErrorCode.NRG_0003)])


ACCEPTED_SPELLINGS = [
    ("+0.5", "+1.5", "+1.0"),
    (".5", "1.50", "1."),
    ("+.5", "01.5", "1"),
    (" 0.5 ", "\t1.5", "1.0 "),
    ("0.5\u00a0", "1.5", "1.0"),
]


@pytest.mark.parametrize("warm", [False, True], ids=["first-sight", "after-valid-rows"])
@pytest.mark.parametrize(("net", "consumed", "generated"), ACCEPTED_SPELLINGS)
def test_plain_decimal_spellings_are_accepted_on_both_paths(
    net: str, consumed: str, generated: str, warm: bool
) -> None:
    # Given 0.5 / 1.5 / 1.0 spelled with a sign, without a leading or trailing digit, or padded, on a row that
    # is either the file's first or follows rows that made every other cell known (the fast path)
    cells = {"energy_net_kwh": net, "energy_consumed_kwh": consumed, "energy_generated_kwh": generated}
    warm_up = (row(**at(1)), row(meter_id=METER_2)) if warm else ()

    # When it is validated
    rows, report = run(csv_bytes(HEADER, *warm_up, row(**cells)))

    # Then the row is valid with the values the spellings mean
    assert found(report) == []
    assert (rows[-1].net_kwh, rows[-1].consumed_kwh, rows[-1].generated_kwh) == (0.5, 1.5, 1.0)


# Spellings where the fast path's cheap grammar check and the slow path's grammar could part ways; all that
# float() reads are 0.5, so a row with them is valid but for the grammar.
SPELLINGS = [
    "0.5",
    " +.50 ",
    "\x1c0.5\x1f",  # ASCII separators count as whitespace for float() and str.strip() alike
    "0.5\u2003",
    "0.5_0",
    "5e-1",
    "5E-1",
    ".05e1",
    "\u0660.\u0665",
    "\uff10.5",
    "0\u066b5",
    "inf",
    "-nan",
    "0.5.",
    "0x0.8p0",
]
# Energy column sets that take the fast path, the column holding the spelling, and the other cells' values.
FAST_SETS = [
    (("energy_net_kwh",), "energy_net_kwh", {}),
    (("energy_consumed_kwh", "energy_generated_kwh"), "energy_consumed_kwh", {"energy_generated_kwh": "0"}),
    (("energy_consumed_kwh", "energy_generated_kwh"), "energy_generated_kwh", {"energy_consumed_kwh": "1"}),
]


@pytest.mark.parametrize(("columns", "spelled", "others"), FAST_SETS, ids=["net", "consumed", "generated"])
@pytest.mark.parametrize("text", SPELLINGS, ids=[repr(text) for text in SPELLINGS])
def test_the_fast_path_accepts_exactly_the_numbers_the_grammar_accepts(
    text: str, columns: tuple[str, ...], spelled: str, others: dict[str, str]
) -> None:
    # Given a file with one energy column set whose value is spelled `text` on the first row (the slow path)
    # and, in another file, after two rows that made every other cell known (the fast path)
    names = ("meter_id", "interval_start_time_utc", "interval_end_time_utc", *columns)

    def line(cells: dict[str, str]) -> str:
        values = dict(zip(HEADER.split(","), row(**cells).split(","), strict=True))
        return ",".join(values[name] for name in names)

    bad = line({spelled: text, **others})
    warm_up = (line({**at(1), spelled: "0.25", **others}), line({"meter_id": METER_2, spelled: "0.75", **others}))
    slow_rows, slow = run(csv_bytes(",".join(names), bad))
    fast_rows, fast = run(csv_bytes(",".join(names), *warm_up, bad))

    # Then both take it exactly when it is in the grammar, with the same value, and refuse it alike
    value = parse_decimal(text)
    spelled_values = [getattr(r, spelled.removeprefix("energy_")) for r in slow_rows]
    assert spelled_values == ([value] if value is not None else [])
    assert fast_rows[2:] == slow_rows
    assert found(fast) == [(4, column, code) for _, column, code in found(slow)]


@pytest.mark.parametrize("warm", [False, True], ids=["first-sight", "after-valid-rows"])
def test_values_at_the_bound_are_accepted_and_the_message_beyond_it_names_the_bound(warm: bool) -> None:
    # Given a net, a consumption and a generation of exactly 1,000,000 kWh, then a consumption just beyond it
    warm_up = (row(**at(1)), row(meter_id=METER_2)) if warm else ()
    at_bound = row(**at(2), energy_net_kwh="1000000", energy_consumed_kwh="1000000", energy_generated_kwh="0")
    generating = row(**at(3), energy_net_kwh="-1000000.000", energy_consumed_kwh="0", energy_generated_kwh="1000000")
    beyond = row(energy_net_kwh="", energy_consumed_kwh="1000000.5")

    # When validated
    rows, report = run(csv_bytes(HEADER, *warm_up, at_bound, generating, beyond))

    # Then only the value beyond the bound is refused, and its message says what the bound is
    line = 4 + len(warm_up)
    assert found(report) == [(line, Column.CONSUMED, ErrorCode.NRG_0004)]
    assert "1,000,000 kWh" in report.errors[0].message and "Wh" in report.errors[0].message
    assert [(r.net_kwh, r.consumed_kwh, r.generated_kwh) for r in rows[-2:]] == [
        (1e6, 1e6, 0.0),
        (-1e6, 0.0, 1e6),
    ]


def test_a_refused_number_says_how_to_write_it() -> None:
    # Given a value in scientific notation, as a spreadsheet shows a small number
    _, report = run(csv_bytes(HEADER, row(energy_net_kwh="5E-01")))

    # Then the message names the value and the fix
    [error] = report.errors
    assert "'5E-01'" in error.message and "scientific notation" in error.message


def test_negative_consumption_is_con_0003_but_negative_net_is_fine() -> None:
    # Given a negative consumption and, on another line, a negative net
    data = csv_bytes(
        HEADER,
        row(energy_net_kwh="", energy_consumed_kwh="-0.25"),
        row(energy_net_kwh="-2", energy_consumed_kwh="", energy_generated_kwh="", **at(1)),
    )

    # When it is validated
    rows, report = run(data)

    # Then only the consumption is refused
    assert found(report) == [(2, Column.CONSUMED, ErrorCode.CON_0003)]
    assert [r.net_kwh for r in rows] == [-2.0]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" Yes ", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("", False),
    ],
)
def test_final_spellings(spelling: str, expected: bool) -> None:
    rows, report = run(csv_bytes(HEADER, row(final=spelling)))
    assert report.ok and rows[0].final is expected


@pytest.mark.parametrize("region", ["MA", "ma", " isone ", "ISONE", ""])
def test_region_accepts_the_meters_state_or_region_in_any_case_or_nothing(region: str) -> None:
    rows, report = run(csv_bytes(HEADER, row(region=region)))
    assert report.ok and len(rows) == 1


def test_region_is_checked_against_the_lists_when_the_lookup_does_not_know_the_meters() -> None:
    # Given a lookup without regions
    def plain(meter_id: str) -> MeterVerdict:
        return MeterVerdict(MeterStatus.OK)

    # When rows name another valid state, a region and a non-state
    _, report = run(csv_bytes(HEADER, row(region="TX"), row(region="PJM", **at(1)), row(region="QQ", **at(2))), plain)

    # Then only the non-state is refused
    assert found(report) == [(4, Column.REGION, ErrorCode.REG_0003)]


# ----- duplicates and meters ------------------------------------------------------------------------------


def test_a_row_repeated_in_one_file_is_dup_0001_on_the_repeat() -> None:
    # Given the same meter and start on lines 2 and 4 (with other values)
    data = csv_bytes(HEADER, row(), row(**at(1)), row(energy_net_kwh="0.6", energy_consumed_kwh="1.6"))

    # When it is validated
    rows, report = run(data)

    # Then line 4 is DUP_0001 and the file fails
    assert found(report) == [(4, Column.START, ErrorCode.DUP_0001)]
    assert len(rows) == 2 and not report.ok


def test_the_same_meter_in_another_case_is_the_same_meter_for_duplicates() -> None:
    _, report = run(csv_bytes(HEADER, row(), row(meter_id=METER.upper())))
    assert found(report) == [(3, Column.START, ErrorCode.DUP_0001)]


def test_each_meter_id_is_looked_up_once_per_file() -> None:
    # Given 50 rows of one meter and 50 of an unknown one
    calls: list[str] = []

    def counting(meter_id: str) -> MeterVerdict:
        calls.append(meter_id)
        return lookup(meter_id)

    lines = [row(**at(slot)) for slot in range(50)] + [row(meter_id=UNKNOWN, **at(slot)) for slot in range(50)]

    # When the file is validated
    run(csv_bytes(HEADER, *lines), counting)

    # Then each id was looked up once
    assert calls == [METER, UNKNOWN]


def _stored(meter_id: str, partner_id: str, region: str, meter_type: str, state: str) -> MeterRecord:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    data = {
        "transmission_region": region,
        "meter_type": meter_type,
        "customer_classification": "RESIDENTIAL",
        "customer": {"state_or_province_code": state},
    }
    return MeterRecord(
        meter_id=meter_id,
        partner_id=partner_id,
        partner_reference=f"ref-{meter_id[:4]}",
        data=data,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def repository() -> InMemoryMeterRepository:
    repo = InMemoryMeterRepository()
    repo.create(_stored(METER, "acme", "ISONE", "DEVICE", "MA"))
    repo.create(_stored(UNKNOWN, "borealis", "ISONE", "DEVICE", "MA"))
    repo.create(_stored(ERCOT_METER, "acme", "ERCOT", "UTILITY_METER", "TX"))
    repo.create(_stored("44444444-4444-4444-8444-444444444444", "acme", "CAISO", "UTILITY_METER", "CA"))
    repo.create(_stored("55555555-5555-4555-8555-555555555555", "acme", "NYISO", "UTILITY_METER", "NY"))
    return repo


def test_a_meter_of_another_partner_is_mtr_0003_like_a_meter_that_does_not_exist(
    repository: InMemoryMeterRepository,
) -> None:
    # Given acme's upload naming borealis's meter and a meter nobody has
    nobody = "66666666-6666-4666-8666-666666666666"
    data = csv_bytes(HEADER, row(meter_id=UNKNOWN), row(meter_id=nobody))

    # When it is validated with acme's lookup
    _, report = run(data, repository_lookup(repository, "acme"))

    # Then both are MTR_0003 with the same wording: nothing reveals that the first one exists
    assert found(report) == [(2, "meter_id", ErrorCode.MTR_0003), (3, "meter_id", ErrorCode.MTR_0003)]
    assert report.errors[0].message.replace(UNKNOWN, "?") == report.errors[1].message.replace(nobody, "?")


@pytest.mark.parametrize(
    ("meter_id", "supplier"),
    [
        (ERCOT_METER, "the ISO"),
        ("44444444-4444-4444-8444-444444444444", "the utility"),
        ("55555555-5555-4555-8555-555555555555", "the utility"),
    ],
    ids=["ERCOT-ERS", "CAISO-utility-meter", "NYISO-utility-meter"],
)
def test_a_meter_whose_programs_take_no_partner_data_is_mtr_0004(
    repository: InMemoryMeterRepository, meter_id: str, supplier: str
) -> None:
    # When acme uploads data for its own meter whose programs get data from the ISO or the utility
    _, report = run(csv_bytes(HEADER, row(meter_id=meter_id, region="")), repository_lookup(repository, "acme"))

    # Then it is refused with our code, naming the supplier
    assert found(report) == [(2, "meter_id", ErrorCode.MTR_0004)]
    assert supplier in report.errors[0].message


def test_the_repository_lookup_accepts_the_partners_isone_device_and_its_state(
    repository: InMemoryMeterRepository,
) -> None:
    rows, report = run(csv_bytes(HEADER, row(region="ma")), repository_lookup(repository, "acme"))
    assert report.ok and rows[0].meter_id == METER


# ----- errors: cap, summary, streaming -------------------------------------------------------------------


def test_errors_are_capped_in_memory_but_all_counted_summarised_and_streamed() -> None:
    # Given 2,000 rows with a bad final value
    streamed: list[RowError] = []
    lines = [row(final="maybe", **at(slot % 96, f"2025-06-{1 + slot // 96:02d}")) for slot in range(2_000)]

    # When the file is validated with an error sink
    _, report = run(csv_bytes(HEADER, *lines), on_error=streamed.append)

    # Then 1,000 are kept, 2,000 counted and streamed, and the summary has the count
    assert len(report.errors) == 1_000 and report.errors_truncated
    assert report.errors_total == 2_000 and len(streamed) == 2_000
    assert report.errors == streamed[:1_000]
    assert [(s.column, s.code, s.count) for s in report.error_summary()] == [(Column.FINAL, ErrorCode.FNL_0002, 2_000)]
    assert (report.rows_total, report.rows_invalid) == (2_000, 2_000)


def test_error_items_have_the_api_shape() -> None:
    _, report = run(csv_bytes(HEADER, row(meter_id="x")))
    assert report.errors[0].as_dict() == {
        "line": 2,
        "column": "meter_id",
        "code": "MTR_0002",
        "message": "meter_id 'x' is not a valid UUID (8-4-4-4-12 hex digits).",
    }
    assert report.error_summary()[0].as_dict() == {"column": "meter_id", "code": "MTR_0002", "count": 1}


def test_long_values_are_clipped_in_messages() -> None:
    _, report = run(csv_bytes(HEADER, row(meter_id="z" * 500)))
    assert len(report.errors[0].message) < 120 and "..." in report.errors[0].message


# ----- sources and infrastructure -----------------------------------------------------------------------


def _one_byte_chunks(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


SOURCES: dict[str, Callable[[bytes], Source]] = {
    "bytes": lambda data: data,
    "binary-stream": io.BytesIO,
    "one-byte-chunks": _one_byte_chunks,
    "text-stream": lambda data: io.StringIO(data.decode()),
    "text-lines": lambda data: data.decode().splitlines(keepends=True),
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_source_kind_gives_the_same_result(kind: str) -> None:
    # Given a file with a non-ASCII unknown column, a valid row and a bad row
    data = ("\ufeff" + HEADER + ",café\n" + row() + ",crème\n" + row(final="no way", **at(1)) + ",é\n").encode()

    # When it is validated from that kind of source
    rows, report = run(SOURCES[kind](data))

    # Then the outcome is the same
    assert len(rows) == 1
    assert found(report) == [(3, Column.FINAL, ErrorCode.FNL_0002)]
    assert report.unknown_columns == ["café"]


def test_a_failing_lookup_propagates_as_an_infrastructure_error() -> None:
    def down(meter_id: str) -> MeterVerdict:
        raise TimeoutError("dynamodb")

    with pytest.raises(MeterLookupError):
        run(csv_bytes(HEADER, row()), down)


def test_a_failing_source_propagates_as_an_infrastructure_error() -> None:
    def dropped() -> Iterator[bytes]:
        yield csv_bytes(HEADER)
        raise ConnectionResetError("S3")

    with pytest.raises(SourceReadError):
        run(dropped())


def test_rows_come_lazily_and_the_report_is_complete_only_at_the_end() -> None:
    # Given a validator over three rows
    validator = IntervalFileValidator(lookup, now=NOW)
    rows = validator.rows(csv_bytes(HEADER, row(), row(**at(1)), row(**at(2))))

    # When one row is taken
    first = next(rows)

    # Then the report is not finished yet; after the rest it is
    assert first.slot == 0 and not validator.report.finished
    assert len(list(rows)) == 2 and validator.report.finished and validator.report.rows_valid == 3


def _mixed_file() -> bytes:
    """Two meters interleaved over two days, final and estimated values, a few bad rows and a duplicate."""
    lines = [HEADER]
    for slot in range(0, 96, 5):
        for day in ("2025-06-01", "2025-06-02"):
            lines.append(row(final="true" if slot % 2 else "false", energy_net_kwh="0.5", **at(slot, day)))
            lines.append(row(meter_id=METER_2, final="no", region="isone", **at(slot, day)))
    lines[7] = row(energy_net_kwh="bad", **at(1))
    lines[12] = row(meter_id=UNKNOWN, **at(2))
    lines.append(row(meter_id=METER_2, **at(0)))  # a duplicate
    return csv_bytes(*lines)


def _store(batches: Iterator[dict[DayKey, DaySlots]]) -> dict[DayKey, DaySlots]:
    stored: dict[DayKey, DaySlots] = {}
    for batch in batches:
        for key, day in batch.items():
            stored[key] = merge_day(stored.get(key), day)
    return stored


@pytest.mark.parametrize("batch_rows", [1, 7, 1_000])
def test_fused_day_batches_store_the_same_as_grouping_the_rows(batch_rows: int) -> None:
    # Given a mixed file, validated twice: once as rows grouped afterwards, once with the fused batches
    by_rows = IntervalFileValidator(lookup, now=NOW)
    expected = group_by_day(by_rows.rows(_mixed_file()))
    fused = IntervalFileValidator(lookup, now=NOW)

    # When the fused batches are merged into a store
    batches = list(fused.day_batches(_mixed_file(), batch_rows))
    stored = _store(iter(batches))

    # Then the store, the batch sizes and the reports are the same
    assert stored == expected
    assert all(sum(day.count for day in batch.values()) == batch_rows for batch in batches[:-1])
    assert found(fused.report) == found(by_rows.report) and len(found(fused.report)) == 3
    assert (fused.report.rows_valid, fused.report.rows_invalid) == (by_rows.report.rows_valid, 3)


def test_a_validator_checks_one_file_only() -> None:
    validator = IntervalFileValidator(lookup, now=NOW)
    list(validator.rows(csv_bytes(HEADER, row())))
    with pytest.raises(RuntimeError):
        validator.rows(csv_bytes(HEADER, row()))


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        IntervalFileValidator(lookup, now=datetime(2025, 1, 1))


def test_every_code_is_documented_and_ours_are_marked() -> None:
    # Then every code has a one-line meaning, and the additions are exactly ours
    assert all(code.meaning and "\n" not in code.meaning for code in ErrorCode)
    assert {code for code in ErrorCode if not code.is_leap} == set(OUR_CODES)
    assert {"MTR_0004", "DUP_0001", "FIL_0001", "FIL_0002", "FIL_0003", "FIL_0004", "NRG_0004"} <= {
        str(c) for c in OUR_CODES
    }


def _time_ordered_file(days: int) -> bytes:
    """METER and METER_2 interleaved slot by slot over `days` days (a time-major export)."""
    lines = [HEADER]
    for day in range(days):
        date_text = f"2025-06-0{day + 1}"
        for slot in range(96):
            for meter in (METER, METER_2):
                lines.append(row(meter_id=meter, **at(slot, date_text)))
    return csv_bytes(*lines)


def test_a_time_ordered_file_yields_each_meter_day_once_when_batches_are_capped_by_records() -> None:
    # Given a time-ordered file of 2 meters x 2 days (384 rows)
    source = _time_ordered_file(days=2)

    # When grouped in batches of 100 rows, or capped by records (room for all 4 meter-days)
    by_rows = list(IntervalFileValidator(lookup, now=NOW).day_batches(source, 100))
    by_records = list(IntervalFileValidator(lookup, now=NOW).day_batches(source, 1_000_000, max_day_items=4))

    # Then row batches cut every meter-day into pieces, while record-capped batches hold each one whole
    assert sum(len(batch) for batch in by_rows) > 4
    assert [len(batch) for batch in by_records] == [4]
    assert _store(iter(by_records)) == _store(iter(by_rows))
    assert all(day.count == 96 for day in by_records[0].values())


def test_batches_capped_by_records_stay_within_the_cap() -> None:
    # Given the same file and room for one meter-day per batch
    batches = list(
        IntervalFileValidator(lookup, now=NOW).day_batches(_time_ordered_file(days=1), 10_000, max_day_items=1)
    )

    # Then no batch holds more than one meter-day, and together they hold every row once
    assert all(len(batch) == 1 for batch in batches)
    assert sum(day.count for batch in batches for day in batch.values()) == 192


@pytest.mark.parametrize(
    ("bad_net", "code"),
    [
        ("nan", ErrorCode.NET_0002),
        ("1e308", ErrorCode.NET_0002),
        ("1_000", ErrorCode.NET_0002),
        ("\u0661.\u0662", ErrorCode.NET_0002),
        ("1000000.5", ErrorCode.NRG_0004),
    ],
)
def test_once_the_energy_caches_are_full_values_are_still_parsed_and_checked(
    monkeypatch: pytest.MonkeyPatch, bad_net: str, code: ErrorCode
) -> None:
    # Given caches of 4 spellings and a file of 40 distinct energies, with bad values after the caches filled up
    monkeypatch.setattr("meterhub.intervals.rules.validator.VALUE_CACHE_LIMIT", 4)
    lines = [HEADER]
    for slot in range(40):
        consumed, generated = f"{1 + slot / 1000:.3f}", f"{slot / 1000:.3f}"
        lines.append(
            row(**at(slot), energy_net_kwh="1.000", energy_consumed_kwh=consumed, energy_generated_kwh=generated)
        )
    lines[31] = row(**at(30), energy_net_kwh="1.000", energy_consumed_kwh="-1.030", energy_generated_kwh="0.030")
    lines[36] = row(**at(35), energy_net_kwh=bad_net)
    rows, report = run(csv_bytes(*lines))
    # Then the bad rows are reported as without the cap, and every good row carries its own values
    assert found(report) == [(32, Column.CONSUMED, ErrorCode.CON_0003), (37, Column.NET, code)]
    assert len(rows) == 38
    assert [(r.consumed_kwh, r.generated_kwh) for r in rows[-2:]] == [(1.038, 0.038), (1.039, 0.039)]
    assert all(r.net_kwh == 1.0 for r in rows)
