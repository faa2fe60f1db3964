"""Streaming validation of a load-schema interval CSV: bytes in, valid rows or day records and errors out.

Why it is shaped this way:

* **Streaming, flat memory.** The source is pulled in 64 KiB chunks and never held whole; lines are capped
  (`FIL_0003`); every cache is bounded. What grows with the file is only the duplicate detector: one int
  (a 96-bit slot mask) per meter and UTC day seen, i.e. ~1/96 of the rows for a normal file.
* **One pass, streamed out.** `rows()` yields valid `IntervalRow`s; `day_batches()` yields the same rows
  already grouped into per-meter-day `DaySlots`, one dict per N valid rows, so the caller stages a batch
  and forgets it. Every error goes to `on_error` as it is found (to stream a reject file) and into
  `report` (first 1,000 kept, exact totals, a summary per column and code). A file is the unit: the caller
  commits what it staged only if `report.ok` once the iterator is exhausted.
* **Never an exception for bad input.** Every byte sequence ends in codes on the report. Only failures of
  the infrastructure propagate, as `IngestInfrastructureError` (the source could not be read, the meter
  lookup or the error sink failed), so the caller retries the file instead of failing it.
* **Fast.** Column positions are resolved once from the header. A row first takes a fast path that only
  accepts what this file already showed valid: meter verdicts, timestamps (a start knows its valid end),
  energy, `final` and `region` spellings are cached per distinct cell text, because a file repeats them
  thousands of times. Anything new or wrong goes to `_check_row`, which applies every rule and reports
  every error. So a valid row costs a handful of dict lookups and comparisons, no regex and few objects.

The rules and codes are documented once, in `meterhub.intervals.rules.codes`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, cast

from meterhub.catalog.enums import TransmissionRegion
from meterhub.intervals.rules.codes import Column, ErrorCode
from meterhub.intervals.rules.model import ErrorSummary, IntervalRow, MeterLookup, MeterStatus, MeterVerdict, RowError
from meterhub.intervals.rules.numbers import MAX_KWH_PER_INTERVAL, parse_decimal, refusal
from meterhub.intervals.rules.slots import DayKey, DaySlots

MAX_LINE_CHARS = 65_536
"""A longer line (terminator included) stops the file with FIL_0003."""
MAX_ERRORS = 1_000
"""Errors kept in `report.errors`; all are counted and summarised, and all go to `on_error`."""
CHUNK_BYTES = 1 << 16
CACHE_LIMIT = 100_000
"""Entries per per-file cache (meter ids, timestamps) before it is cleared: bounds memory on hostile files."""
VALUE_CACHE_LIMIT = 50_000
"""Energy cell spellings remembered per file; once full, the cache is no longer consulted (see `_rows`)."""
VALUE_CLIP = 40
MAX_UNKNOWN_COLUMNS = 100
NRG_TOLERANCE_KWH = 0.002
NRG_TOLERANCE_RATIO = 0.001

_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US_STATES = frozenset(_STATE_CODES.split())
REGIONS = frozenset(str(region) for region in TransmissionRegion)
FINAL_SPELLINGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}

Source = bytes | str | IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str]
"""A whole (small) file, a binary or text stream (anything with `read`), or an iterable of bytes or text chunks.

Chunks need not be lines: text is encoded and everything goes through the same byte-level checks."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?", re.ASCII
)
_REGION_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*", re.ASCII)
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}
_MAGIC = (
    (b"\x1f\x8b", "is gzip-compressed; upload the uncompressed CSV"),
    (b"PK\x03\x04", "is a ZIP archive (or an Excel workbook); export it as a UTF-8 CSV"),
    (b"\x00\x00\xfe\xff", "is UTF-32 text; save it as UTF-8"),
    (b"\xff\xfe", "is UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "is UTF-16 text; save it as UTF-8"),
)
_BOM = codecs.BOM_UTF8
_BEYOND_BOUND = (
    f"is beyond {MAX_KWH_PER_INTERVAL:,.0f} kWh, more than any meter measures in one 15-minute interval "
    f"(a {MAX_KWH_PER_INTERVAL * 4 / 1e6:g} GW average); is it in Wh instead of kWh?"
)
_NO_ENERGY_SET = (
    "No valid set of energy values: give energy_net_kwh, or energy_consumed_kwh and energy_generated_kwh, or all three."
)


class IngestInfrastructureError(Exception):
    """Not the file's fault: the caller should retry the file, not fail it."""


class SourceReadError(IngestInfrastructureError):
    """Reading the uploaded object failed (e.g. a dropped S3 connection)."""


class MeterLookupError(IngestInfrastructureError):
    """The meter lookup raised (e.g. DynamoDB unavailable)."""


class ErrorSinkError(IngestInfrastructureError):
    """The `on_error` callback raised (e.g. the reject file could not be written)."""


@dataclass
class ValidationReport:
    """Counters, errors and columns of one file; complete once `finished` (the rows were exhausted)."""

    max_errors: int = MAX_ERRORS
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    errors_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_counts: dict[tuple[str | None, ErrorCode], int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    """The known columns found, in header order (lower-case)."""
    unknown_columns: list[str] = field(default_factory=list)
    """Header names that are not load-schema columns (ignored; for the feedback file)."""
    fatal: RowError | None = None
    """The file-level error that stopped validation, if any (it is also in `errors`)."""
    finished: bool = False

    @property
    def ok(self) -> bool:
        """The whole file was read and not one error found: it may be ingested."""
        return self.finished and self.errors_total == 0

    @property
    def errors_truncated(self) -> bool:
        return self.errors_total > len(self.errors)

    def error_summary(self) -> list[ErrorSummary]:
        """Errors per column and code, most frequent first: Leap's `error_summary`."""
        items = [ErrorSummary(column, code, count) for (column, code), count in self.error_counts.items()]
        return sorted(items, key=lambda item: (-item.count, item.code, item.column or ""))


class _Slow(Exception):
    """Raised inside the fast path: this row needs the full check."""


class _Meter:
    """A cached meter verdict: the canonical id, the duplicate masks by day ordinal, or the error.

    `region_ok` holds the raw `region` spellings already found valid for this meter (for the fast path).
    """

    __slots__ = ("error", "id", "masks", "region_ok", "regions")

    def __init__(
        self,
        meter_id: str,
        masks: dict[int, int],
        regions: frozenset[str],
        error: tuple[ErrorCode, str] | None,
    ) -> None:
        self.id = meter_id
        self.masks = masks
        self.regions = regions
        self.error = error
        self.region_ok = {""}


class _Instant:
    """A parsed timestamp cell. `q` is its quarter-hour index since 1970 (None unless parsed and aligned).

    `next_text` is the end cell that makes a valid interval with this start, once one was seen: the fast
    path then checks a row's end with one string comparison instead of a second cache lookup.
    """

    __slots__ = (
        "bad",
        "bit",
        "day",
        "day_ordinal",
        "dt",
        "future",
        "next_text",
        "parse_error",
        "q",
        "slot",
        "unaligned",
    )

    def __init__(self, dt: datetime | None, parse_error: str | None, now: datetime) -> None:
        self.dt = dt or _EPOCH
        self.parse_error = parse_error
        self.unaligned = dt is not None and (dt.minute % 15 != 0 or dt.second != 0 or dt.microsecond != 0)
        self.future = dt is not None and dt > now
        self.bad = parse_error is not None or self.unaligned or self.future
        self.q: int | None = None if dt is None or self.unaligned else (dt - _EPOCH) // _QUARTER
        self.day: date = self.dt.date()
        self.day_ordinal = self.day.toordinal()
        self.slot = self.dt.hour * 4 + self.dt.minute // 15
        self.bit = 1 << self.slot
        self.next_text: str | None = None


def _line_of(row: list[str], line_num: int) -> int:
    """The physical line a row starts on: csv's count after the row, less the line breaks inside its fields."""
    breaks = sum(value.count("\n") + value.count("\r") - value.count("\r\n") for value in row if len(value) > 0)
    return line_num - breaks


def clip(value: str) -> str:
    """A cell value for a message: quoted, control characters escaped, at most VALUE_CLIP characters."""
    shown = value[:VALUE_CLIP].replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{shown}...'" if len(value) > VALUE_CLIP else f"'{shown}'"


class _CheckedBytes(io.RawIOBase):
    """The caller's bytes as a raw stream, stopped before the first line that is not UTF-8 text.

    It drops a UTF-8 BOM, refuses compressed/UTF-16 files from their first bytes, and validates each chunk
    as UTF-8 (pure-ASCII chunks cost one `isascii()`). Only complete lines are handed on, so when a bad
    byte or a NUL is found, everything before its line has been handed on and nothing of it: `problem`
    then holds the exact (physical) line and the reason, and the stream ends.
    """

    def __init__(self, pull: Callable[[], bytes], carry_limit: int) -> None:
        super().__init__()
        self._pull = pull
        self._carry_limit = carry_limit
        self._carry = b""
        self._out = memoryview(b"")
        self._later: memoryview | None = None
        self._started = False
        self._eof = False
        self._lines_before = 0
        self.problem: tuple[int, str] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out:
            if self._later is not None:
                self._out, self._later = self._later, None
            elif self._eof:
                return 0
            else:
                self._fill()
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def _fill(self) -> None:
        chunk = self._pull()
        if not self._started:
            while chunk and len(chunk) < 4:
                more = self._pull()
                if not more:
                    break
                chunk += more
            self._started = True
            for magic, reason in _MAGIC:
                if chunk.startswith(magic):
                    self._stop(1, f"The file {reason}.")
                    return
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if not chunk:
            self._eof = True
            data, self._carry = self._carry, b""
            self._check(data, final=True)
            return
        carry = self._carry
        if chunk.isascii() and b"\x00" not in chunk and carry.isascii():
            cut = chunk.rfind(b"\n") + 1
            if cut:  # the common case: hand on the carried line start and the chunk's whole lines, no copy
                self._lines_before += chunk.count(b"\n", 0, cut)
                self._out, self._later = memoryview(carry), memoryview(chunk)[:cut]
                self._carry = chunk[cut:]
                return
        data = carry + chunk if carry else chunk
        end = self._check(data, final=False)
        if end is None:
            return
        cut = data.rfind(b"\n", 0, end) + 1
        if end - cut > self._carry_limit:
            cut = end  # a line this long fails FIL_0003 downstream; don't hold it here
        self._lines_before += data.count(b"\n", 0, cut)
        self._carry = data[cut:]
        self._out = memoryview(data[:cut])

    def _check(self, data: bytes, *, final: bool) -> int | None:
        """Validate `data`; return how many bytes are whole characters, or None after stopping the stream."""
        bad = data.find(b"\x00")
        reason = "contains a NUL byte (a binary file?)" if bad >= 0 else ""
        end = len(data)
        if not data.isascii():
            limit = data[:bad] if bad >= 0 else data
            try:
                _, end = codecs.utf_8_decode(limit, "strict", final)
                end = end if bad < 0 else len(data)
            except UnicodeDecodeError as exc:
                bad, reason = exc.start, f"is not valid UTF-8 (byte 0x{limit[exc.start]:02x}); save it as UTF-8"
        if bad >= 0:
            line = self._lines_before + data.count(b"\n", 0, bad) + 1
            self._out = memoryview(data[: data.rfind(b"\n", 0, bad) + 1])
            self._stop(line, f"Line {line} {reason}.")
            return None
        if final:
            self._out = memoryview(data)
        return end

    def _stop(self, line: int, message: str) -> None:
        self.problem = (line, message)
        self._eof = True


def _puller(source: Source) -> Callable[[], bytes]:
    """One function returning the next bytes chunk (b"" at the end), whatever the source type."""
    if isinstance(source, bytes | bytearray | str):
        whole: list[bytes | str] = [bytes(source) if isinstance(source, bytearray) else source]
        source = cast(Iterable[bytes], whole)
    read = getattr(source, "read", None)
    if read is not None:

        def pull_stream() -> bytes:
            try:
                data = read(CHUNK_BYTES)
            except Exception as exc:
                raise SourceReadError(f"could not read the file: {exc}") from exc
            if isinstance(data, str):
                return data.encode("utf-8", "surrogatepass")
            return bytes(data or b"")

        return pull_stream
    chunks = iter(cast(Iterable[bytes | str], source))

    def pull_chunks() -> bytes:
        while True:
            try:
                data = next(chunks, None)
            except Exception as exc:
                raise SourceReadError(f"could not read the file: {exc}") from exc
            if data is None:
                return b""
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogatepass")
            if data:
                return bytes(data)

    return pull_chunks


class _Lines:
    """Lines of the text stream for csv.reader, each at most `limit` characters (else `too_long`, end)."""

    def __init__(self, readline: Callable[[int], str], limit: int) -> None:
        self._readline = readline
        self._limit = limit
        self.too_long = False

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._readline, self._limit
        while True:
            line = readline(limit + 1)
            if not line:
                return
            if len(line) > limit:
                self.too_long = True
                return
            yield line


class IntervalFileValidator:
    """Validates one file, in one pass. Usage::

        validator = IntervalFileValidator(lookup, now=job_started_at, on_error=reject_file.write)
        for batch in validator.day_batches(body, 50_000):   # or: for row in validator.rows(body)
            stage(batch)
        if validator.report.ok: commit() else: discard()

    `lookup` is called once per distinct meter id of the file. `now` is the reference for "in the future".

    Each row first takes a fast path that only recognises values already seen valid in this file (cached
    meter, start whose valid end is known, the three numbers in the grammar and range, a known `final`
    and `region` spelling). Anything else, including the first sight of a value, goes to `_check_row`, which applies
    every rule, reports every error, and teaches the fast path what it found valid.
    """

    def __init__(
        self,
        lookup: MeterLookup,
        *,
        now: datetime,
        max_errors: int = MAX_ERRORS,
        on_error: Callable[[RowError], None] | None = None,
        max_line_chars: int = MAX_LINE_CHARS,
    ) -> None:
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self.report = ValidationReport(max_errors=max_errors)
        self._lookup = lookup
        self._now = now
        self._on_error = on_error
        self._max_line = max_line_chars
        self._meters: dict[str, _Meter] = {}
        self._ok_meters: dict[str, _Meter] = {}
        self._verdicts: dict[str, MeterVerdict] = {}
        self._seen: dict[str, dict[int, int]] = {}
        self._instants: dict[str, _Instant] = {}
        self._finals: dict[str, bool] = {
            spelling: value
            for word, value in FINAL_SPELLINGS.items()
            for spelling in (word, word.upper(), word.capitalize())
        }
        self._regions: dict[str, str] = {}
        self._columns: dict[str, int] = {}
        self._used = False
        self._max_day_items: int | None = None

    # ----- public -------------------------------------------------------------------------------------------
    def rows(self, source: Source) -> Iterator[IntervalRow]:
        """The valid rows, in file order. Exhaust it; then `report` is complete (`finished`)."""
        self._claim()
        return cast(Iterator[IntervalRow], self._run(source, None))

    def day_batches(
        self, source: Source, batch_rows: int = 50_000, max_day_items: int | None = None
    ) -> Iterator[dict[DayKey, DaySlots]]:
        """The valid rows grouped per meter and UTC day, one dict per `batch_rows` valid rows, or sooner once
        it holds `max_day_items` meter-days (bounding memory by records, not rows: a time-ordered file then
        still yields each meter-day once instead of once per row batch).

        The same as `slots.day_batches(self.rows(source), batch_rows)`, fused into the validation loop so no
        row object is made. No merge is needed inside a file: a repeated slot is `DUP_0001`, not a value.
        """
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self._claim()
        self._max_day_items = max_day_items
        return cast(Iterator[dict[DayKey, DaySlots]], self._run(source, batch_rows))

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("an IntervalFileValidator checks one file; create a new one per file")
        self._used = True

    # ----- errors -------------------------------------------------------------------------------------------
    def _emit(self, line: int, column: str | None, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        report = self.report
        report.errors_total += 1
        key = (column, code)
        report.error_counts[key] = report.error_counts.get(key, 0) + 1
        error = RowError(line, column, code, message)
        if len(report.errors) < report.max_errors:
            report.errors.append(error)
        if fatal and report.fatal is None:
            report.fatal = error
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception as exc:
                raise ErrorSinkError(f"on_error failed: {exc}") from exc

    # ----- the file -----------------------------------------------------------------------------------------
    def _run(self, source: Source, batch_rows: int | None) -> Iterator[object]:
        raw = _CheckedBytes(_puller(source), carry_limit=4 * self._max_line + 4)
        text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK_BYTES), encoding="utf-8", newline="")
        lines = _Lines(text.readline, self._max_line)
        reader = csv.reader(lines)
        try:
            header = self._header(reader, raw, lines)
            if header is not None:
                yield from self._rows(reader, header[1], batch_rows)
                self._end(reader, raw, lines, header_only=self.report.rows_total == 0)
        except csv.Error as exc:
            # Lines are capped before csv sees them, so only a quoted field running on over many lines (an
            # unclosed quote) can pass csv's field size limit.
            message = f"A quoted field is too long (unclosed quote?): {exc}."
            self._emit(reader.line_num, None, ErrorCode.FIL_0003, message, fatal=True)
        except IngestInfrastructureError:
            raise
        except Exception as exc:  # a bug, not the file: still a job record that says so, never a crash loop
            message = f"Unexpected error: {type(exc).__name__}"
            self._emit(reader.line_num + 1, None, ErrorCode.UNCATEGORISED, message, fatal=True)
        self.report.finished = True

    def _end(self, reader: Any, raw: _CheckedBytes, lines: _Lines, *, header_only: bool) -> bool:
        """Report why the text ended early, if it did; True when it did."""
        if lines.too_long:
            line = reader.line_num + 1
            message = f"Line {line} is longer than {self._max_line:,} characters."
            self._emit(line, None, ErrorCode.FIL_0003, message, fatal=True)
            return True
        if raw.problem is not None:
            self._emit(raw.problem[0], None, ErrorCode.FIL_0002, raw.problem[1], fatal=True)
            return True
        if header_only:
            self._emit(2, None, ErrorCode.FIL_0001, "The file has a header but no data rows.", fatal=True)
        return False

    def _header(self, reader: Any, raw: _CheckedBytes, lines: _Lines) -> tuple[dict[str, int], int] | None:
        """Column positions by name and the header's width; None (after saying why) when rows can't be read."""
        header: list[str] | None = next(reader, None)
        if header is None:
            if not self._end(reader, raw, lines, header_only=False):
                self._emit(1, None, ErrorCode.FIL_0001, "The file is empty; line 1 must be the header.", fatal=True)
            return None
        if not header:
            self._emit(1, None, ErrorCode.FIL_0001, "Line 1 is blank; line 1 must be the header.", fatal=True)
            return None
        names = [name.strip().lower() for name in header]
        known = {str(column) for column in Column}
        positions: dict[str, int] = {}
        twice: list[str] = []
        for index, name in enumerate(names):
            if name in known:
                if name in positions:
                    twice.append(name)
                positions[name] = index
            elif len(self.report.unknown_columns) < MAX_UNKNOWN_COLUMNS:
                self.report.unknown_columns.append(header[index].strip()[:VALUE_CLIP])
        self.report.columns = [name for name in names if name in known]
        if not positions:
            for delimiter, label in _OTHER_DELIMITERS.items():
                if any(part.strip().lower() in known for name in names for part in name.split(delimiter)):
                    message = f"The header is separated by {label}; columns must be separated by commas."
                    self._emit(1, None, ErrorCode.FIL_0004, message, fatal=True)
                    return None
        if twice:
            message = f"Column(s) {', '.join(sorted(set(twice)))} appear more than once."
            self._emit(1, None, ErrorCode.FIL_0005, message, fatal=True)
            return None
        missing = False
        for column, code in (
            (Column.METER_ID, ErrorCode.MTR_0001),
            (Column.START, ErrorCode.STM_0001),
            (Column.END, ErrorCode.ETM_0001),
        ):
            if column not in positions:
                self._emit(1, column, code, f"The {column} column is missing.", fatal=True)
                missing = True
        if Column.NET not in positions and not (Column.CONSUMED in positions and Column.GENERATED in positions):
            self._emit(1, Column.NET, ErrorCode.NRG_0001, _NO_ENERGY_SET.replace("values", "columns"), fatal=True)
            missing = True
        self._columns = positions
        return None if missing else (positions, len(header))

    # ----- the rows (the hot loop) --------------------------------------------------------------------------
    def _rows(self, reader: Any, ncols: int, batch_rows: int | None) -> Iterator[object]:
        """Valid rows (rows mode) or day batches (`batch_rows` given); errors go to `_emit` as found."""
        columns = self._columns
        i_meter, i_start, i_end = columns[Column.METER_ID], columns[Column.START], columns[Column.END]
        i_net = columns.get(Column.NET, -1)
        i_con = columns.get(Column.CONSUMED, -1)
        i_gen = columns.get(Column.GENERATED, -1)
        i_final = columns.get(Column.FINAL, -1)
        i_region = columns.get(Column.REGION, -1)
        energy_set = (i_net >= 0) | (i_con >= 0) << 1 | (i_gen >= 0) << 2
        # Net with only one of consumed/generated is rare: such files take the slow path for every row.
        fast_energy = energy_set in (1, 6, 7)
        has_net, has_pair = energy_set & 1 == 1, energy_set & 6 == 6
        net_values: dict[str, float] = {}
        amounts: dict[str, float] = {}
        net_get, amount_get = net_values.get, amounts.get
        # A file whose energies rarely repeat (e.g. 6 decimals) fills a cache without hitting it: once full, a
        # cache is no longer consulted, since a lookup that misses costs about what it saves when it hits.
        cache_nets = cache_amounts = True
        has_final, has_region = i_final >= 0, i_region >= 0
        meter_get, instant_get, final_get = self._ok_meters.get, self._instants.get, self._finals.get
        check_row = self._check_row
        report = self.report
        grouping = batch_rows is not None
        step = batch_rows or 0
        flush_at = step
        item_cap = self._max_day_items or 0
        groups: dict[DayKey, DaySlots] = {}
        new_day = DaySlots.empty
        new_row = tuple.__new__
        row_type = IntervalRow
        to_float = float
        bound = MAX_KWH_PER_INTERVAL
        tolerance, ratio = NRG_TOLERANCE_KWH, NRG_TOLERANCE_RATIO
        valid = invalid = 0
        # The meter-day of the previous row: its duplicate mask, and its record with the slot masks written
        # since it was fetched (both written back when the meter-day changes, at a flush and at the end).
        current: _Meter | None = None
        current_day = -1
        seen = 0
        record: DaySlots | None = None
        present = finals = 0
        nets: list[float | None] = []
        consumeds: list[float | None] = []
        generateds: list[float | None] = []
        meter: _Meter | None
        start: _Instant | None
        net: float | None
        consumed: float | None
        generated: float | None
        try:
            for row in reader:
                if len(row) != ncols:
                    if not row:
                        continue  # a blank line
                    if self._width_error(row, ncols, reader.line_num):
                        invalid += 1
                        continue
                try:
                    meter = meter_get(row[i_meter])
                    start = instant_get(row[i_start])
                    if meter is None or start is None or start.next_text != row[i_end] or not fast_energy:
                        raise _Slow
                    # Energies: a cell seen before costs a dict lookup (a file repeats a few thousand
                    # spellings), a new one float(), the range check and the grammar check, then it is
                    # remembered. The grammar check is `numbers.DECIMAL` in a cheaper form: of what float()
                    # reads, only non-ASCII text (other scripts' digits), "_" (a digit separator), "e"/"E"
                    # (an exponent) and nan/inf (out of range) are outside it; surrounding whitespace
                    # float() ignores as str.strip() does. Anything doubtful goes to _check_row, which
                    # decides with the grammar itself; only valid spellings enter the caches.
                    net = consumed = generated = None
                    if has_net:
                        text = row[i_net]
                        net = number = net_get(text) if cache_nets else None
                        if number is None:
                            net = number = to_float(text)
                            if not -bound <= number <= bound or not text.isascii() or "_" in text:
                                raise _Slow
                            if "e" in text or "E" in text:
                                raise _Slow
                            if cache_nets:
                                if len(net_values) < VALUE_CACHE_LIMIT:
                                    net_values[text] = number
                                else:
                                    cache_nets = False
                    if has_pair:
                        text = row[i_con]
                        consumed = amount_get(text) if cache_amounts else None
                        if consumed is None:
                            consumed = to_float(text)
                            if not 0.0 <= consumed <= bound or not text.isascii() or "_" in text:
                                raise _Slow
                            if "e" in text or "E" in text:
                                raise _Slow
                            if cache_amounts:
                                if len(amounts) < VALUE_CACHE_LIMIT:
                                    amounts[text] = consumed
                                else:
                                    cache_amounts = False
                        text = row[i_gen]
                        generated = amount_get(text) if cache_amounts else None
                        if generated is None:
                            generated = to_float(text)
                            if not 0.0 <= generated <= bound or not text.isascii() or "_" in text:
                                raise _Slow
                            if "e" in text or "E" in text:
                                raise _Slow
                            if cache_amounts:
                                if len(amounts) < VALUE_CACHE_LIMIT:
                                    amounts[text] = generated
                                else:
                                    cache_amounts = False
                        if net is not None:
                            allowed = tolerance + ratio * (consumed if consumed > generated else generated)
                            if not -allowed <= net - (consumed - generated) <= allowed:
                                raise _Slow
                    final = final_get(row[i_final]) if has_final else False
                    if final is None or (has_region and row[i_region] not in meter.region_ok):
                        raise _Slow
                    ok = True
                except (ValueError, _Slow):
                    try:
                        meter, start, net, consumed, generated, final, ok = check_row(row, reader.line_num)
                    except IngestInfrastructureError:
                        raise
                    except Exception as exc:  # a bug on one row: report it on that line, keep validating
                        invalid += 1
                        line = _line_of(row, reader.line_num)
                        self._emit(line, None, ErrorCode.UNCATEGORISED, f"Unexpected error: {type(exc).__name__}")
                        continue
                    if meter is None or start is None:
                        invalid += 1
                        if ok:  # cannot happen; never let a row vanish without an error saying so
                            line = _line_of(row, reader.line_num)
                            self._emit(line, None, ErrorCode.UNCATEGORISED, "Unexpected error: row without key")
                        continue
                # Duplicate detection (also for rows invalid in other columns), per meter-day.
                if meter is not current or start.day_ordinal != current_day:
                    if current is not None:
                        current.masks[current_day] = seen
                    if record is not None:
                        record.present |= present
                        record.final |= finals
                        record, present, finals = None, 0, 0
                    current, current_day = meter, start.day_ordinal
                    seen = meter.masks.get(current_day, 0)
                bit = start.bit
                if seen & bit:
                    self._duplicate(row, reader.line_num, meter, i_start)
                    invalid += 1
                    continue
                seen |= bit
                if not ok:
                    invalid += 1
                    continue
                valid += 1
                if not grouping:
                    yield new_row(
                        row_type, (meter.id, start.dt, start.day, start.slot, net, consumed, generated, final)
                    )
                    continue
                if record is None:
                    key = (meter.id, start.day)
                    record = groups.get(key)
                    if record is None:
                        if item_cap and len(groups) >= item_cap:
                            # Full: hand over what is grouped so far (this row is not in it yet).
                            report.rows_total, report.rows_valid = valid - 1 + invalid, valid - 1
                            report.rows_invalid = invalid
                            yield groups
                            groups = {}
                        record = groups[key] = new_day()
                    nets, consumeds, generateds = record.net, record.consumed, record.generated
                slot = start.slot
                nets[slot] = net
                consumeds[slot] = consumed
                generateds[slot] = generated
                present |= bit
                if final:
                    finals |= bit
                if valid == flush_at:
                    flush_at = valid + step
                    record.present |= present
                    record.final |= finals
                    record, present, finals = None, 0, 0
                    report.rows_total, report.rows_valid, report.rows_invalid = valid + invalid, valid, invalid
                    yield groups
                    groups = {}
            if record is not None:
                record.present |= present
                record.final |= finals
                record = None
            if groups:
                report.rows_total, report.rows_valid, report.rows_invalid = valid + invalid, valid, invalid
                yield groups
        finally:
            if current is not None:
                current.masks[current_day] = seen
            report.rows_total, report.rows_valid, report.rows_invalid = valid + invalid, valid, invalid

    # ----- the slow path: every rule, every error -----------------------------------------------------------
    def _check_row(
        self, row: list[str], line_num: int
    ) -> tuple[_Meter | None, _Instant | None, float | None, float | None, float | None, bool, bool]:
        """All rules but duplicates on one row: (meter, start) when valid (for duplicate detection), the
        values, and whether the row is valid. Reports every error; caches what is valid for the fast path."""
        columns = self._columns
        line = _line_of(row, line_num)
        ok = True
        value = row[columns[Column.METER_ID]]
        meter = self._meters.get(value) or self._meter(value)
        if meter.error is not None:
            self._emit(line, Column.METER_ID, *meter.error)
            ok = False
        start_value, end_value = row[columns[Column.START]], row[columns[Column.END]]
        start = self._instants.get(start_value) or self._instant(start_value)
        end = self._instants.get(end_value) or self._instant(end_value)
        if start.bad or end.bad or start.q is None or end.q != start.q + 1:
            self._time_errors(line, start_value, start, end_value, end)
            ok = False
        else:
            start.next_text = end_value

        net, consumed, generated, energies_ok = self._energies(row, line)
        ok = ok and energies_ok
        final = False
        i_final = columns.get(Column.FINAL, -1)
        if i_final >= 0:
            flag = self._final(line, row[i_final])
            ok = ok and flag is not None
            final = bool(flag)
        i_region = columns.get(Column.REGION, -1)
        if i_region >= 0:
            ok = self._region_fits(line, row[i_region], meter) and ok
        if meter.error is None and len(self._ok_meters) < CACHE_LIMIT:
            self._ok_meters[value] = meter
        valid_meter = meter if meter.error is None else None
        return valid_meter, (start if start.q is not None else None), net, consumed, generated, final, ok

    def _energies(self, row: list[str], line: int) -> tuple[float | None, float | None, float | None, bool]:
        """The three energies (None when not given) and whether they are valid together."""
        values: dict[Column, float | None] = {}
        given: set[Column] = set()
        ok = True
        for column in (Column.NET, Column.CONSUMED, Column.GENERATED):
            index = self._columns.get(column, -1)
            text = row[index].strip() if index >= 0 else ""
            values[column] = None
            if not text:
                continue
            given.add(column)
            number = parse_decimal(text)
            low = -MAX_KWH_PER_INTERVAL if column is Column.NET else 0.0
            if number is not None and low <= number <= MAX_KWH_PER_INTERVAL:
                values[column] = number
            else:
                ok = False
                self._number_error(line, column, row[index], number)
        net, consumed, generated = values[Column.NET], values[Column.CONSUMED], values[Column.GENERATED]
        if Column.NET not in given and not {Column.CONSUMED, Column.GENERATED} <= given:
            self._emit(line, Column.NET, ErrorCode.NRG_0001, _NO_ENERGY_SET)
            ok = False
        elif net is not None and consumed is not None and generated is not None:
            allowed = NRG_TOLERANCE_KWH + NRG_TOLERANCE_RATIO * max(consumed, generated)
            if abs(net - (consumed - generated)) > allowed:
                self._conflict_error(line, net, consumed, generated, allowed)
                ok = False
        return net, consumed, generated, ok

    def _width_error(self, row: list[str], ncols: int, line_num: int) -> bool:
        """Report a row whose field count does not fit the header; False for harmless trailing empty fields."""
        width = len(row)
        if width > ncols and not any(value.strip() for value in row[ncols:]):
            return False
        line = _line_of(row, line_num)
        if width < ncols:
            message = f"The line has {width} field(s); the header has {ncols} columns."
            self._emit(line, None, ErrorCode.LIN_0001, message)
        else:
            message = f"The line has {width} fields, more than the header's {ncols} (an unquoted comma?)."
            self._emit(line, None, ErrorCode.LIN_0002, message)
        return True

    def _duplicate(self, row: list[str], line_num: int, meter: _Meter, i_start: int) -> None:
        message = f"Meter {meter.id} at {clip(row[i_start])} is already on an earlier line."
        self._emit(_line_of(row, line_num), Column.START, ErrorCode.DUP_0001, message)

    def _meter(self, value: str) -> _Meter:
        if len(self._meters) >= CACHE_LIMIT:
            self._meters.clear()
        text = value.strip()
        if not _UUID.fullmatch(text):
            problem = "is empty" if not text else "is not a valid UUID (8-4-4-4-12 hex digits)"
            meter = _Meter(text, {}, frozenset(), (ErrorCode.MTR_0002, f"meter_id {clip(value)} {problem}."))
            self._meters[value] = meter
            return meter
        meter_id = text.lower()
        verdict = self._verdicts.get(meter_id)
        if verdict is None:
            try:
                verdict = self._lookup(meter_id)
            except Exception as exc:
                raise MeterLookupError(f"meter lookup failed for {meter_id}: {exc}") from exc
            if len(self._verdicts) >= CACHE_LIMIT:
                self._verdicts.clear()
            self._verdicts[meter_id] = verdict
        error: tuple[ErrorCode, str] | None = None
        if verdict.status is MeterStatus.UNKNOWN:
            error = (ErrorCode.MTR_0003, f"meter_id {meter_id} is not a known meter.")
        elif verdict.status is MeterStatus.NO_PARTNER_DATA:
            supplier = verdict.supplier or "the ISO or the utility"
            error = (
                ErrorCode.MTR_0004,
                f"Meter {meter_id} gets its interval data from {supplier}; partner-supplied data is not accepted.",
            )
        masks = self._seen.setdefault(meter_id, {}) if error is None else {}
        meter = _Meter(meter_id, masks, verdict.regions if error is None else frozenset(), error)
        self._meters[value] = meter
        return meter

    def _instant(self, value: str) -> _Instant:
        if len(self._instants) >= CACHE_LIMIT:
            self._instants.clear()
        text = value.strip()
        match = _TIMESTAMP.fullmatch(text)
        moment: datetime | None = None
        problem: str | None = None
        if match is None:
            problem = (
                f"{clip(value)} is not an ISO 8601 UTC timestamp (expected YYYY-MM-DDTHH:MM:SSZ)."
                if text
                else "The timestamp is empty."
            )
        elif match["zone"] is None:
            problem = f"{clip(value)} has no UTC designator; end it with Z or +00:00."
        else:
            try:
                moment = datetime.fromisoformat(text[:-1] + "Z" if text[-1] == "z" else text)
            except ValueError:
                problem = f"{clip(value)} is not a valid date and time."
            else:
                offset = moment.utcoffset()
                if offset:
                    problem = (
                        f"{clip(value)} has UTC offset {match['zone']}; interval times must be in UTC "
                        "(Z or +00:00), other offsets are not converted."
                    )
                    moment = None
                else:
                    moment = moment.replace(tzinfo=UTC)
        instant = _Instant(moment, problem, self._now)
        self._instants[value] = instant
        return instant

    def _time_errors(self, line: int, start_value: str, start: _Instant, end_value: str, end: _Instant) -> None:
        for column, value, instant, parse_code, rule_code, edge in (
            (Column.START, start_value, start, ErrorCode.STM_0002, ErrorCode.STM_0003, "start"),
            (Column.END, end_value, end, ErrorCode.ETM_0002, ErrorCode.ETM_0003, "end"),
        ):
            if instant.parse_error is not None:
                self._emit(line, column, parse_code, instant.parse_error)
            elif instant.unaligned:
                self._emit(
                    line,
                    column,
                    rule_code,
                    f"{clip(value)} is not a 15-minute {edge} (minutes 00/15/30/45, zero seconds).",
                )
            elif instant.future:
                self._emit(line, column, rule_code, f"{clip(value)} is in the future (after {self._now_text()}).")
        if start.q is not None and end.q is not None and end.q - start.q != 1:
            minutes = (end.q - start.q) * 15
            self._emit(
                line,
                Column.END,
                ErrorCode.DTR_0003,
                f"The interval {clip(start_value)} to {clip(end_value)} is {minutes} minutes long; it must be 15.",
            )

    def _now_text(self) -> str:
        return self._now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _number_error(self, line: int, column: Column, value: str, number: float | None) -> None:
        """Report an energy cell that is not a number (None), negative where it may not be, or beyond the bound."""
        codes = {
            Column.NET: (ErrorCode.NET_0002, ErrorCode.NET_0002),
            Column.CONSUMED: (ErrorCode.CON_0002, ErrorCode.CON_0003),
            Column.GENERATED: (ErrorCode.GEN_0002, ErrorCode.GEN_0003),
        }[column]
        if number is None:
            self._emit(line, column, codes[0], f"{column} {clip(value)} {refusal(value)}.")
        elif number < 0.0 and column is not Column.NET:
            self._emit(line, column, codes[1], f"{column} {clip(value)} is negative; it must be 0 or more.")
        else:
            self._emit(line, column, ErrorCode.NRG_0004, f"{column} {clip(value)} {_BEYOND_BOUND}")

    def _conflict_error(self, line: int, net: float, consumed: float, generated: float, allowed: float) -> None:
        self._emit(
            line,
            Column.NET,
            ErrorCode.NRG_0003,
            f"energy_net_kwh {net:g} differs from consumed - generated = {consumed - generated:g} "
            f"by more than {allowed:.4g} kWh (0.002 kWh + 0.1 %).",
        )

    def _final(self, line: int, value: str) -> bool | None:
        flag = FINAL_SPELLINGS.get(value.strip().lower())
        if flag is None:
            self._emit(line, Column.FINAL, ErrorCode.FNL_0002, f"final {clip(value)} is not true/false, 1/0 or yes/no.")
        elif len(self._finals) < 1_000:
            self._finals[value] = flag
        return flag

    def _region_fits(self, line: int, value: str, meter: _Meter) -> bool:
        """Whether the region cell is valid and fits the meter (reporting why not)."""
        region = self._regions.get(value)
        if region is None:
            region = self._region(line, value)
        if region is None:
            return False
        if region and meter.regions and region not in meter.regions:
            message = f"{clip(value)} is not this meter's region; it is in {' / '.join(sorted(meter.regions))}."
            self._emit(line, Column.REGION, ErrorCode.REG_0003, message)
            return False
        if meter.error is None and len(meter.region_ok) < 64:
            meter.region_ok.add(value)
        return True

    def _region(self, line: int, value: str) -> str | None:
        text = value.strip().upper()
        if not text:
            return ""  # blank: not given (falsy, so never checked against the meter)
        if not _REGION_WORD.fullmatch(text):
            self._emit(
                line, Column.REGION, ErrorCode.REG_0002, f"region {clip(value)} is not a state code or region name."
            )
            return None
        if text not in US_STATES and text not in REGIONS:
            self._emit(
                line,
                Column.REGION,
                ErrorCode.REG_0003,
                f"region {clip(value)} is not a US state code or a transmission region ({', '.join(sorted(REGIONS))}).",
            )
            return None
        if len(self._regions) < 1_000:
            self._regions[value] = text
        return text


def validate(
    source: Source,
    lookup: MeterLookup,
    *,
    now: datetime,
    max_errors: int = MAX_ERRORS,
    on_error: Callable[[RowError], None] | None = None,
) -> tuple[list[IntervalRow], ValidationReport]:
    """Validate a small file in one call (tests, previews): all valid rows in a list, and the report."""
    validator = IntervalFileValidator(lookup, now=now, max_errors=max_errors, on_error=on_error)
    rows = list(validator.rows(source))
    return rows, validator.report
