"""A file validated in pieces (`pieces`) gives the report one pass over the whole file gives: the steps a
fan-out runs in separate invocations, and the join that puts their results together.

The steps, each a pure function of its inputs (so a piece run twice, or killed and run again, gives the same
result, and storing that result under the piece's name is idempotent):

1. `check_piece`: validate one piece (the header, then the lines it owns) with the file's meter lookup and
   reference time. It reports its errors on piece-relative lines, its line count, its row counts, and, by
   meter bucket (`bucket_of`: a meter is always in the same bucket), the day records of its valid rows and the
   slots every keyed row used (duplicate masks).
2. `group_bucket`: for one bucket, the pieces' masks in file order: a slot a piece uses that an earlier piece
   already used is a duplicate across pieces. It answers, per piece with such slots, the earlier pieces' masks
   of those meter-days (a seed), and the bucket's day records put together across pieces (a meter-day split
   between two pieces becomes one record, so each meter-day is merged by exactly one worker).
3. `check_piece` again, only for a piece with a seed: its validator starts with the earlier slots, so the rows
   repeating them are `DUP_0001` on their own lines and counted invalid, as one pass would have found them.
4. `assemble`: the pieces' results in file order become one `ValidationReport`: lines made absolute (each
   piece's count added to the next's), the header's errors once, a piece with no rows not an error by itself,
   and nothing after a file-level error that stops one pass (a bad byte, a line too long) — the same counts,
   errors, summary and order as `IntervalFileValidator` over the whole file.

Only a file whose assembled report is clean is stored: the bucket day records are then merged, bucket by bucket.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from meterhub.intervals.rules.codes import ErrorCode
from meterhub.intervals.rules.model import MeterLookup, RowError
from meterhub.intervals.rules.pieces import LineCounter, Piece, ReadFrom, header_of, owned, plan
from meterhub.intervals.rules.slots import DayKey, DaySlots, merge_day
from meterhub.intervals.rules.validation_report import MAX_ERRORS, ErrorLog, ValidationReport
from meterhub.intervals.rules.validator import IntervalFileValidator

Masks = dict[str, dict[int, int]]
"""meter id -> UTC day ordinal -> one bit per 15-minute slot used."""

_WHOLE_PIECE = 1 << 62
"""A row count no piece reaches: `day_batches` then hands over the piece's day records in one dict."""
_NO_ROWS_MESSAGE = "The file has a header but no data rows."


def bucket_of(meter_id: str, buckets: int) -> int:
    """The meter's bucket: stable across processes and runs (CRC-32, not Python's salted `hash`)."""
    return zlib.crc32(meter_id.encode()) % buckets


@dataclass
class PieceCheck:
    """What validating one piece found; `errors` are on piece-relative lines (the header is line 1)."""

    index: int
    lines: int
    """The piece's physical lines (piece 0's include the header)."""
    rows_valid: int
    rows_invalid: int
    errors: list[RowError]
    fatal: RowError | None
    columns: list[str]
    unknown_columns: list[str]
    days: dict[int, dict[DayKey, DaySlots]] = field(default_factory=dict)
    """By bucket: the day records of the piece's valid rows."""
    seen: dict[int, Masks] = field(default_factory=dict)
    """By bucket: the slots of every row whose meter and start are valid."""


@dataclass
class BucketGroup:
    """One bucket across the file: seeds for the pieces repeating an earlier piece's slots, and the day records."""

    seeds: dict[int, Masks]
    days: dict[DayKey, DaySlots]


def check_piece(
    read_from: ReadFrom,
    piece: Piece,
    header: bytes,
    lookup: MeterLookup,
    *,
    now: datetime,
    buckets: int,
    seed: Masks | None = None,
) -> PieceCheck:
    """Validate the lines `piece` owns (after the header); `seed`: earlier pieces' slots (step 3)."""
    counter = LineCounter(owned(read_from, piece, header))
    source: Iterable[bytes] = counter if piece.index == 0 else itertools.chain([header], counter)
    errors: list[RowError] = []
    seen: Masks = {meter: dict(days) for meter, days in (seed or {}).items()}
    validator = IntervalFileValidator(lookup, now=now, on_error=errors.append, seen=seen)
    days: dict[int, dict[DayKey, DaySlots]] = {}
    for batch in validator.day_batches(source, batch_rows=_WHOLE_PIECE):
        for (meter_id, day), slots in batch.items():
            own = days.setdefault(bucket_of(meter_id, buckets), {})
            own[(meter_id, day)] = merge_day(own.get((meter_id, day)), slots)
    for _ in counter:  # lines the validator did not read (it stopped early): still counted
        pass
    report = validator.report
    by_bucket: dict[int, Masks] = {}
    for meter_id, masks in validator.seen.items():
        if masks:
            by_bucket.setdefault(bucket_of(meter_id, buckets), {})[meter_id] = masks
    return PieceCheck(
        index=piece.index,
        lines=counter.lines,
        rows_valid=report.rows_valid,
        rows_invalid=report.rows_invalid,
        errors=errors,
        fatal=report.fatal,
        columns=report.columns,
        unknown_columns=report.unknown_columns,
        days=days,
        seen=by_bucket,
    )


def group_bucket(pieces: Iterable[tuple[Masks, dict[DayKey, DaySlots]]]) -> BucketGroup:
    """One bucket's (masks, day records) of every piece, in file order (step 2); consumed one piece at a time,
    so a fan-out reads them lazily and holds one piece's besides what the bucket adds up to."""
    union: Masks = {}
    seeds: dict[int, Masks] = {}
    days: dict[DayKey, DaySlots] = {}
    for index, (masks, piece_days) in enumerate(pieces):
        for meter_id, by_day in masks.items():
            earlier = union.setdefault(meter_id, {})
            for day, mask in by_day.items():
                before = earlier.get(day, 0)
                if before & mask:
                    seeds.setdefault(index, {}).setdefault(meter_id, {})[day] = before
                earlier[day] = before | mask
        for day_key, slots in piece_days.items():
            days[day_key] = merge_day(days.get(day_key), slots)
    return BucketGroup(seeds, days)


def assemble(
    checks: Iterable[PieceCheck],
    *,
    max_errors: int = MAX_ERRORS,
    on_error: Callable[[RowError], None] | None = None,
) -> ValidationReport:
    """The pieces' results, in file order, as the one report of the whole file (step 4); every error also goes
    to `on_error`, with its absolute line (the errors CSV).

    `checks` is consumed one piece at a time and never kept, so a fan-out can read the pieces' summaries
    lazily and hold one at a time however many pieces (and errors) the file has; after a file-level error
    the rest are not read at all. They must come in file order (0, 1, ...): each piece's lines are offset by
    the count of those before it, so a piece out of order or missing is a ValueError, never reordered."""
    report = ValidationReport(max_errors=max_errors)
    for _ in _assembling(checks, report, ErrorLog(report, on_error)):
        continue  # each error already went to `on_error` as it was recorded
    return report


def assembled_errors(checks: Iterable[PieceCheck]) -> Iterator[RowError]:
    """The errors `assemble` hands `on_error`, the same ones in the same order, each yielded only when the
    caller asks for it: for a consumer that pulls them (the fan-out's errors CSV, generated as its upload reads
    it) instead of being pushed all of them in one call. `checks` is consumed as lazily as by `assemble`, and
    nothing is kept, not even the report's first errors (the caller has the report from `assemble`)."""
    pending: list[RowError] = []
    report = ValidationReport(max_errors=0)
    for _ in _assembling(checks, report, ErrorLog(report, pending.append)):
        yield pending.pop()


def _assembling(checks: Iterable[PieceCheck], report: ValidationReport, log: ErrorLog) -> Iterator[None]:
    """The work of `assemble` on `report`, paused after each error it records through `log`."""
    before = valid = invalid = expected = 0
    for check in checks:  # not enumerate(): its reused result tuple would keep the last piece alive
        if check.index != expected:
            raise ValueError(f"piece {check.index} came where piece {expected} belongs: pieces go in file order")
        expected += 1
        if check.index == 0:
            report.columns = list(check.columns)
            report.unknown_columns = list(check.unknown_columns)
        offset = before - 1 if check.index else 0
        stopped = False
        for error in check.errors:
            if error.code is ErrorCode.FIL_0001 and error.line != 1:
                continue  # this piece has no rows; whether the file has none is decided below
            if check.index and error.line == 1:
                continue  # the header's errors: piece 0 reports them
            line = error.line + offset
            message = error.message
            prefix = f"Line {error.line} "
            if message.startswith(prefix):
                message = f"Line {line} {message[len(prefix) :]}"
            fatal = error == check.fatal
            log.emit(line, error.column, error.code, message, fatal=fatal)
            yield
            stopped = stopped or fatal
        valid += check.rows_valid
        invalid += check.rows_invalid
        before += check.lines
        del check  # let it go before the next piece is read: one piece's summary held at a time, not two
        if stopped:
            break  # one pass stops at a file-level error: what follows it is not read
    if valid + invalid == 0 and report.fatal is None:
        log.emit(2, None, ErrorCode.FIL_0001, _NO_ROWS_MESSAGE, fatal=True)
        yield
    report.count_rows(valid, invalid)
    report.finished = True


@dataclass
class PiecedResult:
    report: ValidationReport
    days: dict[int, dict[DayKey, DaySlots]]
    """By bucket: what to merge when `report.ok`."""
    pieces: int
    rechecked: int


def check_in_pieces(
    read_from: ReadFrom,
    size: int,
    lookup: MeterLookup,
    *,
    now: datetime,
    piece_bytes: int,
    buckets: int,
) -> PiecedResult:
    """Every step in this process, one after the other: what a fan-out does across invocations (tests and
    benchmarks; it shows the steps compose)."""
    header = header_of(read_from)
    plan_ = plan(size, header, piece_bytes)
    checks = [check_piece(read_from, piece, header, lookup, now=now, buckets=buckets) for piece in plan_]
    seeds: dict[int, Masks] = {}
    days: dict[int, dict[DayKey, DaySlots]] = {}
    for bucket in range(buckets):
        group = group_bucket([(check.seen.get(bucket, {}), check.days.get(bucket, {})) for check in checks])
        days[bucket] = group.days
        for index, seed in group.seeds.items():
            seeds.setdefault(index, {}).update(seed)
    for index, seed in seeds.items():
        checks[index] = check_piece(read_from, plan_[index], header, lookup, now=now, buckets=buckets, seed=seed)
    return PiecedResult(assemble(checks), days, len(plan_), len(seeds))
