"""Streaming validation of a load-schema interval CSV: bytes in, valid rows or day records and errors out.

Why it is shaped this way:

* **Streaming, flat memory.** The source is pulled in 64 KiB chunks and never held whole; lines are capped
  (`FIL_0003`); every cache is bounded (`csv_source`, `cells`). What grows with the file is only the
  duplicate detector: one int (a 96-bit slot mask) per meter and UTC day seen, i.e. ~1/96 of the rows for a
  normal file.
* **One pass, streamed out.** `rows()` yields valid `IntervalRow`s; `day_batches()` yields the same rows
  already grouped into per-meter-day `DaySlots`, one dict per N valid rows, so the caller stages a batch
  and forgets it. Every error goes to `on_error` as it is found (to stream a reject file) and into
  `report` (first 1,000 kept, exact totals, a summary per column and code; `validation_report`). A file is
  the unit: the caller commits what it staged only if `report.ok` once the iterator is exhausted.
* **Never an exception for bad input.** Every byte sequence ends in codes on the report. Only failures of
  the infrastructure propagate, as `IngestInfrastructureError` (the source could not be read, the meter
  lookup or the error sink failed), so the caller retries the file instead of failing it.
* **Fast.** Column positions are resolved once from the header. A row first takes a fast path that only
  accepts what this file already showed valid: meter verdicts, timestamps (a start knows its valid end),
  energy, `final` and `region` spellings are cached per distinct cell text, because a file repeats them
  thousands of times. Anything new or wrong goes to `CellChecks.check_row` (`cells`), which applies every
  rule and reports every error. So a valid row costs a handful of dict lookups and comparisons, no regex
  and few objects.

The rules and codes are documented once, in `meterhub.intervals.rules.codes`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast

from meterhub.intervals.rules.cells import (
    NO_ENERGY_SET,
    NRG_TOLERANCE_KWH,
    NRG_TOLERANCE_RATIO,
    VALUE_CLIP,
    CellChecks,
    Instant,
    Meter,
    clip,
)
from meterhub.intervals.rules.codes import Column, ErrorCode
from meterhub.intervals.rules.csv_source import CheckedBytes, Lines, Source, csv_rows, line_of
from meterhub.intervals.rules.model import IngestInfrastructureError, IntervalRow, MeterLookup, RowError
from meterhub.intervals.rules.numbers import MAX_KWH_PER_INTERVAL
from meterhub.intervals.rules.slots import DayKey, DaySlots
from meterhub.intervals.rules.validation_report import MAX_ERRORS, ErrorLog, ValidationReport

MAX_LINE_CHARS = 65_536
"""A longer line (terminator included) stops the file with FIL_0003."""
VALUE_CACHE_LIMIT = 50_000
"""Energy cell spellings remembered per file; once full, the cache is no longer consulted (see `_remember`)."""
MAX_UNKNOWN_COLUMNS = 100
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}

KeyedRow = tuple[Meter, Instant, float | None, float | None, float | None, bool, bool]
"""(meter, start, net, consumed, generated, final, ok) of a row whose meter and start are valid: what duplicate
detection places, whether or not the rest of the row is valid (`ok`)."""


class _Slow(Exception):
    """Raised inside the fast path: this row needs the full check."""


def _remember(cache: dict[str, float], spelling: str, value: float) -> bool:
    """Keep a valid energy spelling for the fast path while the cache has room; False once it is full: a file
    whose energies rarely repeat (e.g. 6 decimals) fills it without hitting it, and then it is no longer
    consulted, since a lookup that misses costs about what it saves when it hits."""
    if len(cache) < VALUE_CACHE_LIMIT:
        cache[spelling] = value
        return True
    return False


class IntervalFileValidator:
    """Validates one file, in one pass. Usage::

        validator = IntervalFileValidator(lookup, now=job_started_at, on_error=reject_file.write)
        for batch in validator.day_batches(body, 50_000):   # or: for row in validator.rows(body)
            stage(batch)
        if validator.report.ok: commit() else: discard()

    `lookup` is called once per distinct meter id of the file. `now` is the reference for "in the future".

    Each row first takes a fast path that only recognises values already seen valid in this file (cached
    meter, start whose valid end is known, the three numbers in the grammar and range, a known `final`
    and `region` spelling). Anything else, including the first sight of a value, goes to
    `CellChecks.check_row`, which applies every rule, reports every error, and teaches the fast path what it
    found valid.
    """

    def __init__(
        self,
        lookup: MeterLookup,
        *,
        now: datetime,
        max_errors: int = MAX_ERRORS,
        on_error: Callable[[RowError], None] | None = None,
        max_line_chars: int = MAX_LINE_CHARS,
        seen: dict[str, dict[int, int]] | None = None,
    ) -> None:
        """`seen`: (meter id -> UTC day ordinal -> slot bits) already in the file before this text, so a row
        repeating one of them is `DUP_0001` (a file checked in pieces: `piece_checks`); it is updated in place."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self.report = ValidationReport(max_errors=max_errors)
        self._errors = ErrorLog(self.report, on_error)
        self.seen: dict[str, dict[int, int]] = {} if seen is None else seen
        """The slots of every row whose meter and start are valid, by meter id and day ordinal (whatever else
        was wrong with the row): what duplicate detection has seen."""
        self._cells = CellChecks(lookup, now, self._errors, self.seen)
        self._max_line = max_line_chars
        self._invalid = 0
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

    # ----- the file -----------------------------------------------------------------------------------------
    def _run(self, source: Source, batch_rows: int | None) -> Iterator[object]:
        reader, raw, lines = csv_rows(source, self._max_line)
        try:
            header = self._header(reader, raw, lines)
            if header is not None:
                yield from self._rows(reader, header[1], batch_rows)
                self._end(reader, raw, lines, header_only=self.report.rows_total == 0)
        except csv.Error as exc:
            # Lines are capped before csv sees them, so only a quoted field running on over many lines (an
            # unclosed quote) can pass csv's field size limit.
            message = f"A quoted field is too long (unclosed quote?): {exc}."
            self._errors.emit(reader.line_num, None, ErrorCode.FIL_0003, message, fatal=True)
        except IngestInfrastructureError:
            raise
        except Exception as exc:  # a bug, not the file: still a job record that says so, never a crash loop
            message = f"Unexpected error: {type(exc).__name__}"
            self._errors.emit(reader.line_num + 1, None, ErrorCode.UNCATEGORISED, message, fatal=True)
        self.report.finished = True

    def _end(self, reader: Any, raw: CheckedBytes, lines: Lines, *, header_only: bool) -> bool:
        """Report why the text ended early, if it did; True when it did."""
        if lines.too_long:
            line = reader.line_num + 1
            message = f"Line {line} is longer than {self._max_line:,} characters."
            self._errors.emit(line, None, ErrorCode.FIL_0003, message, fatal=True)
            return True
        if raw.problem is not None:
            self._errors.emit(raw.problem[0], None, ErrorCode.FIL_0002, raw.problem[1], fatal=True)
            return True
        if header_only:
            self._errors.emit(2, None, ErrorCode.FIL_0001, "The file has a header but no data rows.", fatal=True)
        return False

    def _header(self, reader: Any, raw: CheckedBytes, lines: Lines) -> tuple[dict[str, int], int] | None:
        """Column positions by name and the header's width; None (after saying why) when rows can't be read."""
        header: list[str] | None = next(reader, None)
        if header is None:
            if not self._end(reader, raw, lines, header_only=False):
                self._errors.emit(
                    1, None, ErrorCode.FIL_0001, "The file is empty; line 1 must be the header.", fatal=True
                )
            return None
        if not header:
            self._errors.emit(1, None, ErrorCode.FIL_0001, "Line 1 is blank; line 1 must be the header.", fatal=True)
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
                    self._errors.emit(1, None, ErrorCode.FIL_0004, message, fatal=True)
                    return None
        if twice:
            message = f"Column(s) {', '.join(sorted(set(twice)))} appear more than once."
            self._errors.emit(1, None, ErrorCode.FIL_0005, message, fatal=True)
            return None
        missing = False
        for column, code in (
            (Column.METER_ID, ErrorCode.MTR_0001),
            (Column.START, ErrorCode.STM_0001),
            (Column.END, ErrorCode.ETM_0001),
        ):
            if column not in positions:
                self._errors.emit(1, column, code, f"The {column} column is missing.", fatal=True)
                missing = True
        if Column.NET not in positions and not (Column.CONSUMED in positions and Column.GENERATED in positions):
            self._errors.emit(1, Column.NET, ErrorCode.NRG_0001, NO_ENERGY_SET.replace("values", "columns"), fatal=True)
            missing = True
        self._cells.columns = positions
        return None if missing else (positions, len(header))

    # ----- the rows (the hot loop) --------------------------------------------------------------------------
    def _rows(self, reader: Any, ncols: int, batch_rows: int | None) -> Iterator[object]:
        """Valid rows (rows mode) or day batches (`batch_rows` given); errors go to the error log as found.

        One loop on purpose: what every row goes through (the fast path, duplicate detection, grouping) is
        inline, and only what few rows need is a call (`_skipped`, `_slow`, `_reject_duplicate`, `_remember`).
        Splitting the common path into per-row calls or generator stages (small steps: check, drop
        duplicates, group) measured 8-14% slower (day batches, `benchmarks/ingest.py` rows): in CPython a
        call that brings its context along, or a generator stage passing a row tuple, costs about a tenth of
        what a whole row does.
        """
        columns = self._cells.columns
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
        cache_nets = cache_amounts = True  # until full (`_remember`)
        has_final, has_region = i_final >= 0, i_region >= 0
        meter_get, instant_get = self._cells.ok_meters.get, self._cells.instants.get
        final_get = self._cells.finals.get
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
        valid = 0
        # The meter-day of the previous row: its duplicate mask, and its record with the slot masks written
        # since it was fetched (both written back when the meter-day changes, at a flush and at the end).
        current: Meter | None = None
        current_day = -1
        seen = 0
        record: DaySlots | None = None
        present = finals = 0
        nets_of: list[float | None] = []
        consumeds: list[float | None] = []
        generateds: list[float | None] = []
        meter: Meter | None
        start: Instant | None
        net: float | None
        consumed: float | None
        generated: float | None
        try:
            for row in reader:
                if len(row) != ncols and self._skipped(row, ncols, reader.line_num):
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
                    # float() ignores as str.strip() does. Anything doubtful goes to `_slow`, which decides
                    # with the grammar itself; only valid spellings enter the caches.
                    net = consumed = generated = None
                    if has_net:
                        text = row[i_net]
                        net = number = net_get(text) if cache_nets else None
                        if number is None:
                            net = number = to_float(text)
                            if (
                                not -bound <= number <= bound
                                or not text.isascii()
                                or "_" in text
                                or "e" in text
                                or "E" in text
                            ):
                                raise _Slow
                            if cache_nets:
                                cache_nets = _remember(net_values, text, number)
                    if has_pair:
                        text = row[i_con]
                        consumed = amount_get(text) if cache_amounts else None
                        if consumed is None:
                            consumed = to_float(text)
                            if (
                                not 0.0 <= consumed <= bound
                                or not text.isascii()
                                or "_" in text
                                or "e" in text
                                or "E" in text
                            ):
                                raise _Slow
                            if cache_amounts:
                                cache_amounts = _remember(amounts, text, consumed)
                        text = row[i_gen]
                        generated = amount_get(text) if cache_amounts else None
                        if generated is None:
                            generated = to_float(text)
                            if (
                                not 0.0 <= generated <= bound
                                or not text.isascii()
                                or "_" in text
                                or "e" in text
                                or "E" in text
                            ):
                                raise _Slow
                            if cache_amounts:
                                cache_amounts = _remember(amounts, text, generated)
                        if net is not None:
                            allowed = tolerance + ratio * (consumed if consumed > generated else generated)
                            if not -allowed <= net - (consumed - generated) <= allowed:
                                raise _Slow
                    final = final_get(row[i_final]) if has_final else False
                    if final is None or (has_region and row[i_region] not in meter.region_ok):
                        raise _Slow
                    ok = True
                except (ValueError, _Slow):
                    checked = self._slow(row, reader.line_num)
                    if checked is None:
                        continue
                    meter, start, net, consumed, generated, final, ok = checked
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
                    self._reject_duplicate(row, reader.line_num, meter, i_start)
                    continue
                seen |= bit
                if not ok:
                    self._invalid += 1
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
                            report.count_rows(valid - 1, self._invalid)
                            yield groups
                            groups = {}
                        record = groups[key] = new_day()
                    nets_of, consumeds, generateds = record.net, record.consumed, record.generated
                slot = start.slot
                nets_of[slot] = net
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
                    report.count_rows(valid, self._invalid)
                    yield groups
                    groups = {}
            if record is not None:
                record.present |= present
                record.final |= finals
                record = None
            if groups:
                report.count_rows(valid, self._invalid)
                yield groups
        finally:
            if current is not None:
                current.masks[current_day] = seen
            report.count_rows(valid, self._invalid)

    def _slow(self, row: list[str], line_num: int) -> KeyedRow | None:
        """The full check of a row the fast path did not vouch for (its errors reported); None, the row counted
        invalid, when its meter or start is not valid, so duplicate detection cannot place it."""
        try:
            meter, start, net, consumed, generated, final, ok = self._cells.check_row(row, line_num)
        except IngestInfrastructureError:
            raise
        except Exception as exc:  # a bug on one row: report it on that line, keep validating
            self._invalid += 1
            message = f"Unexpected error: {type(exc).__name__}"
            self._errors.emit(line_of(row, line_num), None, ErrorCode.UNCATEGORISED, message)
            return None
        if meter is None or start is None:
            self._invalid += 1
            if ok:  # cannot happen; never let a row vanish without an error saying so
                line = line_of(row, line_num)
                self._errors.emit(line, None, ErrorCode.UNCATEGORISED, "Unexpected error: row without key")
            return None
        return meter, start, net, consumed, generated, final, ok

    def _skipped(self, row: list[str], ncols: int, line_num: int) -> bool:
        """Whether a row whose width differs from the header's is skipped: a blank line is (not counted), a
        row of the wrong width is (reported, counted invalid); harmless trailing empty fields are not."""
        if not row:
            return True
        if self._width_error(row, ncols, line_num):
            self._invalid += 1
            return True
        return False

    def _width_error(self, row: list[str], ncols: int, line_num: int) -> bool:
        """Report a row whose field count does not fit the header; False for harmless trailing empty fields."""
        width = len(row)
        if width > ncols and not any(value.strip() for value in row[ncols:]):
            return False
        line = line_of(row, line_num)
        if width < ncols:
            message = f"The line has {width} field(s); the header has {ncols} columns."
            self._errors.emit(line, None, ErrorCode.LIN_0001, message)
        else:
            message = f"The line has {width} fields, more than the header's {ncols} (an unquoted comma?)."
            self._errors.emit(line, None, ErrorCode.LIN_0002, message)
        return True

    def _reject_duplicate(self, row: list[str], line_num: int, meter: Meter, i_start: int) -> None:
        message = f"Meter {meter.id} at {clip(row[i_start])} is already on an earlier line."
        self._errors.emit(line_of(row, line_num), Column.START, ErrorCode.DUP_0001, message)
        self._invalid += 1


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
