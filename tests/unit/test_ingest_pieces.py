"""A file validated in pieces (intervals.rules.pieces, intervals.rules.piece_checks) gives exactly what one pass
over the whole file gives: the same counts, errors (lines, codes, messages, order), summary and stopping point,
and, for a clean file, the same day records, one per meter-day across the buckets.

Each case is a file cut at several piece sizes (down to a few bytes, so pieces start and end mid-line and many own
no line at all) and spread over 1 or 3 buckets. Then the reliability cases of the fan-out at this level: a
duplicate split across two pieces, an error only in the last piece, a piece killed halfway and run again, the same
piece run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from meterhub.intervals.rules.codes import ErrorCode
from meterhub.intervals.rules.model import MeterStatus, MeterVerdict, RowError, SourceReadError
from meterhub.intervals.rules.piece_checks import (
    PieceCheck,
    assemble,
    assembled_errors,
    bucket_of,
    check_in_pieces,
    check_piece,
    group_bucket,
)
from meterhub.intervals.rules.pieces import LineCounter, ReadFrom, header_of, owned, plan
from meterhub.intervals.rules.slots import DayKey, DaySlots
from meterhub.intervals.rules.validation_report import ValidationReport
from meterhub.intervals.rules.validator import IntervalFileValidator

NOW = datetime(2025, 12, 1, tzinfo=UTC)
DAY = date(2025, 6, 1)
METERS = [
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
]
UNKNOWN = "99999999-9999-4999-8999-999999999999"
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region"
)


def lookup(meter_id: str) -> MeterVerdict:
    if meter_id in METERS:
        return MeterVerdict(MeterStatus.OK, regions=frozenset({"MA", "ISONE"}))
    return MeterVerdict(MeterStatus.UNKNOWN)


def stamp(day: date, slot: int) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=15 * slot)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def line(meter: str, day: date, slot: int, consumed: str | None = None) -> str:
    value = consumed or f"{1 + slot % 7 / 10:.3f}"
    return f"{meter},{stamp(day, slot)},{stamp(day, slot + 1)},,{value},0.000,false,MA"


def rows(order: str = "meter", days: int = 2, slots: int = 8) -> list[str]:
    cells = [(m, DAY + timedelta(days=d), s) for m in METERS for d in range(days) for s in range(slots)]
    if order == "time":
        cells.sort(key=lambda cell: (cell[1], cell[2], cell[0]))
    return [line(*cell) for cell in cells]


def text(lines: list[str], newline: str = "\n", header: str = HEADER, end: bool = True) -> bytes:
    return (newline.join([header, *lines]) + (newline if end else "")).encode()


def with_lines(base: list[str], changes: dict[int, str]) -> list[str]:
    changed = list(base)
    for index, value in changes.items():
        changed[index] = value
    return changed


CLEAN = rows()
FILES: dict[str, bytes] = {
    "clean, meter-major": text(CLEAN),
    "clean, time-major (meter-days split across pieces)": text(rows("time")),
    "clean, CRLF": text(CLEAN, "\r\n"),
    "clean, CR only": text(CLEAN, "\r"),
    "clean, no final line break": text(CLEAN, end=False),
    "clean, UTF-8 BOM and blank lines": b"\xef\xbb\xbf" + text(with_lines(CLEAN, {5: "", 20: ""})),
    "errors here and there": text(
        with_lines(CLEAN, {2: line(UNKNOWN, DAY, 2), 9: line(METERS[1], DAY, 9, "x"), 30: "a,b"})
    ),
    "a duplicate far from its first line": text([*rows("time"), rows("time")[1]]),
    "a duplicate that is also invalid elsewhere": text([*CLEAN, line(METERS[0], DAY, 3, "-1")]),
    "the only error in the last line": text([*CLEAN, line(METERS[2], DAY, 40, "nope")]),
    "a bad byte midway, errors after it": text(CLEAN[:20]) + b"\xff\xfe,bad\n" + text(CLEAN[20:], header="x,y"),
    "a line too long midway": text(with_lines(CLEAN, {25: "x" * 70_000})),
    "no rows, only blank lines": text(["", "", ""]),
    "a header missing a column": text(CLEAN, header=HEADER.replace("interval_end_time_utc", "end")),
    "one error per row": text([line(METERS[n % 3], DAY, n, "bad") for n in range(40)]),
}
PIECE_BYTES = [7, 64, 333, 10_000_000]


def reader(body: bytes, chunk: int = 50) -> ReadFrom:
    def read_from(offset: int) -> Iterator[bytes]:
        for start in range(offset, len(body), chunk):
            yield body[start : start + chunk]

    return read_from


def serial(body: bytes) -> tuple[ValidationReport, dict[DayKey, DaySlots]]:
    validator = IntervalFileValidator(lookup, now=NOW)
    days: dict[DayKey, DaySlots] = {}
    for batch in validator.day_batches(body, batch_rows=1 << 40):
        days.update(batch)
    return validator.report, days


def summary(report: ValidationReport) -> dict[str, object]:
    return {
        "rows": (report.rows_total, report.rows_valid, report.rows_invalid),
        "errors_total": report.errors_total,
        "errors": [error.as_dict() for error in report.errors],
        "summary": [item.as_dict() for item in report.error_summary()],
        "fatal": report.fatal,
        "columns": (report.columns, report.unknown_columns),
        "ok": report.ok,
    }


@pytest.mark.parametrize("buckets", [1, 3])
@pytest.mark.parametrize("piece_bytes", PIECE_BYTES)
@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_checked_in_pieces_reports_what_one_pass_reports(name: str, piece_bytes: int, buckets: int) -> None:
    body = FILES[name]
    if len(body) // piece_bytes > 1_000:
        pytest.skip("thousands of pieces inside one long line: the 333-byte case cuts it too")
    expected_report, expected_days = serial(body)

    result = check_in_pieces(reader(body), len(body), lookup, now=NOW, piece_bytes=piece_bytes, buckets=buckets)

    assert summary(result.report) == summary(expected_report)
    if expected_report.ok:
        merged = {key: slots for days in result.days.values() for key, slots in days.items()}
        assert merged == expected_days
        for bucket, days in result.days.items():  # each meter-day in its meter's bucket only
            assert all(bucket_of(meter_id, buckets) == bucket for meter_id, _ in days)


def test_the_cases_really_are_cut_into_many_pieces_and_some_are_rechecked() -> None:
    body = FILES["a duplicate far from its first line"]
    result = check_in_pieces(reader(body), len(body), lookup, now=NOW, piece_bytes=150, buckets=3)
    assert result.pieces > 10
    assert result.rechecked == 1
    clean = FILES["clean, meter-major"]
    assert check_in_pieces(reader(clean), len(clean), lookup, now=NOW, piece_bytes=150, buckets=3).rechecked == 0


@pytest.mark.parametrize("piece_bytes", [1, 2, 5, 64, 999])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_byte_is_owned_by_exactly_one_piece_and_the_lines_add_up(piece_bytes: int, newline: str) -> None:
    body = text([*CLEAN[:10], "", "x"], newline)
    read_from = reader(body, chunk=3)
    header = header_of(read_from)
    pieces = plan(len(body), header, piece_bytes)
    counters = [LineCounter(owned(read_from, piece, header)) for piece in pieces]
    parts = [b"".join(counter) for counter in counters]

    assert b"".join(parts) == body
    physical = body.count(b"\n") + body.count(b"\r") - body.count(b"\r\n")
    assert sum(counter.lines for counter in counters) == physical
    # and every piece starts at a line's start (a CR-only file has no LF to cut at: it is one piece)
    offsets = [sum(len(part) for part in parts[:index]) for index, part in enumerate(parts) if part]
    assert all(offset == 0 or body[offset - 1 : offset] == b"\n" for offset in offsets)
    assert (len(offsets) == 1) is (newline == "\r")


# ----- the reliability cases ----------------------------------------------------------------------------------


def checks_of(body: bytes, piece_bytes: int, buckets: int = 2) -> list[PieceCheck]:
    read_from = reader(body)
    header = header_of(read_from)
    return [
        check_piece(read_from, piece, header, lookup, now=NOW, buckets=buckets)
        for piece in plan(len(body), header, piece_bytes)
    ]


def test_a_duplicate_split_across_two_pieces_is_found_on_its_own_line() -> None:
    # Given a file whose last line repeats its second, cut so they are in different pieces
    lines = [*CLEAN, CLEAN[1]]
    body = text(lines)
    checks = checks_of(body, piece_bytes=400)
    assert len(checks) > 2
    assert not any(error.code is ErrorCode.DUP_0001 for check in checks for error in check.errors)

    # When the buckets are grouped, the last piece gets the earlier piece's slots and is checked again
    groups = [group_bucket([(c.seen.get(b, {}), c.days.get(b, {})) for c in checks]) for b in range(2)]
    seeds = {index: seed for group in groups for index, seed in group.seeds.items()}
    assert list(seeds) == [len(checks) - 1]
    read_from = reader(body)
    header = header_of(read_from)
    last = plan(len(body), header, 400)[-1]
    checks[-1] = check_piece(read_from, last, header, lookup, now=NOW, buckets=2, seed=seeds[len(checks) - 1])

    # Then the assembled report has the duplicate on the last line, that row counted invalid, nothing to store
    report = assemble(checks)
    assert [(e.line, e.code) for e in report.errors] == [(len(lines) + 1, ErrorCode.DUP_0001)]
    assert (report.rows_valid, report.rows_invalid) == (len(CLEAN), 1)
    assert not report.ok


def test_a_file_whose_only_error_is_in_its_last_piece_is_not_ok() -> None:
    body = FILES["the only error in the last line"]
    checks = checks_of(body, piece_bytes=300)
    assert all(not check.errors for check in checks[:-1]) and checks[-1].errors
    report = assemble(checks)
    assert not report.ok
    assert [(e.line, e.code) for e in report.errors] == [(len(CLEAN) + 2, ErrorCode.CON_0002)]


def failing_once(body: bytes, after_chunks: int) -> tuple[ReadFrom, Callable[[], int]]:
    """A reader whose first read dies after `after_chunks` chunks (a piece killed halfway); later reads work."""
    calls = 0

    def read_from(offset: int) -> Iterator[bytes]:
        nonlocal calls
        calls += 1
        for count, chunk in enumerate(reader(body)(offset)):
            if calls == 2 and count == after_chunks:  # call 1 reads the header
                raise ConnectionError("the invocation died")
            yield chunk

    return read_from, lambda: calls


def test_a_piece_killed_halfway_and_run_again_gives_what_an_uninterrupted_run_gives() -> None:
    body = FILES["errors here and there"]
    read_from, _ = failing_once(body, after_chunks=3)
    header = header_of(read_from)
    piece = plan(len(body), header, 2_000)[0]

    with pytest.raises(SourceReadError):
        check_piece(read_from, piece, header, lookup, now=NOW, buckets=2)
    again = check_piece(read_from, piece, header, lookup, now=NOW, buckets=2)

    assert again == check_piece(reader(body), piece, header, lookup, now=NOW, buckets=2)
    assert again.errors and again.rows_valid > 0


def test_the_same_piece_run_twice_gives_the_same_result() -> None:
    body = FILES["clean, time-major (meter-days split across pieces)"]
    first, second = checks_of(body, piece_bytes=500), checks_of(body, piece_bytes=500)
    assert first == second
    assert summary(assemble(first)) == summary(serial(body)[0])


def test_the_pieces_are_assembled_one_at_a_time_and_none_is_read_after_a_file_level_error() -> None:
    # Given a file with a bad byte midway, cut into many pieces, handed over as a generator that notes each pull
    body = FILES["a bad byte midway, errors after it"]
    checks = checks_of(body, piece_bytes=300)
    pulled: list[int] = []

    def lazily() -> Iterator[PieceCheck]:
        for check in checks:
            pulled.append(check.index)
            yield check

    # When they are assembled
    report = assemble(lazily())

    # Then the report is one pass's, and the pieces after the one with the bad byte were never pulled
    assert summary(report) == summary(serial(body)[0])
    stopped_at = next(check.index for check in checks if check.fatal is not None)
    assert pulled == list(range(stopped_at + 1)) and stopped_at < len(checks) - 1


@pytest.mark.parametrize("order", ["swapped", "missing"])
def test_pieces_out_of_file_order_are_refused_not_reordered(order: str) -> None:
    checks = checks_of(FILES["errors here and there"], piece_bytes=500)
    assert len(checks) > 3
    given = [checks[1], checks[0], *checks[2:]] if order == "swapped" else [checks[0], *checks[2:]]
    with pytest.raises(ValueError, match="file order"):
        assemble(given)


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_assembled_errors_pulled_one_at_a_time_are_those_assemble_hands_on(name: str) -> None:
    # Given a file cut into pieces, handed over as a generator that notes each pull
    body = FILES[name]
    checks = checks_of(body, piece_bytes=300)
    pushed: list[RowError] = []
    assemble(checks, on_error=pushed.append)
    pulled: list[int] = []

    def lazily() -> Iterator[PieceCheck]:
        for check in checks:
            pulled.append(check.index)
            yield check

    # When the errors are pulled one at a time, noting how many pieces had been pulled for each
    errors: list[RowError] = []
    pieces_pulled: list[int] = []
    for error in assembled_errors(lazily()):
        errors.append(error)
        pieces_pulled.append(len(pulled))

    # Then they are the errors `assemble` hands `on_error`, in the same order (the header-only file's "no rows"
    # error at the end included), and the pieces were pulled in file order only as the errors needed them
    assert errors == pushed
    assert pulled == list(range(len(pulled)))
    assert pieces_pulled == sorted(pieces_pulled)
    if name == "one error per row":
        assert pieces_pulled[0] == 1 < len(checks) - 1 <= pieces_pulled[-1]  # the first error before piece 1
