"""The cells of one row: each parsed and checked against every rule, every error reported with its line and
column, and what is found valid remembered for the row loop's fast path.

A file repeats its cells thousands of times (a meter id per row, a few thousand energy spellings, every
start of the day as another's end), so each distinct meter id, timestamp, `final` and `region` spelling is
parsed once per file and its verdict cached; every cache is bounded (`CACHE_LIMIT` and smaller), so a
hostile file cannot grow memory. The rules and codes are documented once, in
`meterhub.intervals.rules.codes`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from meterhub.catalog.enums import TransmissionRegion
from meterhub.intervals.rules.codes import Column, ErrorCode
from meterhub.intervals.rules.csv_source import line_of
from meterhub.intervals.rules.model import MeterLookup, MeterLookupError, MeterStatus, MeterVerdict
from meterhub.intervals.rules.numbers import MAX_KWH_PER_INTERVAL, parse_decimal, refusal
from meterhub.intervals.rules.validation_report import ErrorLog

CACHE_LIMIT = 100_000
"""Entries per per-file cache (meter ids, timestamps) before it is cleared: bounds memory on hostile files."""
VALUE_CLIP = 40
NRG_TOLERANCE_KWH = 0.002
NRG_TOLERANCE_RATIO = 0.001

_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US_STATES = frozenset(_STATE_CODES.split())
REGIONS = frozenset(str(region) for region in TransmissionRegion)
FINAL_SPELLINGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?", re.ASCII
)
_REGION_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*", re.ASCII)
_BEYOND_BOUND = (
    f"is beyond {MAX_KWH_PER_INTERVAL:,.0f} kWh, more than any meter measures in one 15-minute interval "
    f"(a {MAX_KWH_PER_INTERVAL * 4 / 1e6:g} GW average); is it in Wh instead of kWh?"
)
NO_ENERGY_SET = (
    "No valid set of energy values: give energy_net_kwh, or energy_consumed_kwh and energy_generated_kwh, or all three."
)


class Meter:
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


class Instant:
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


def clip(value: str) -> str:
    """A cell value for a message: quoted, control characters escaped, at most VALUE_CLIP characters."""
    shown = value[:VALUE_CLIP].replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{shown}...'" if len(value) > VALUE_CLIP else f"'{shown}'"


CheckedRow = tuple[Meter | None, Instant | None, float | None, float | None, float | None, bool, bool]
"""(meter, start, net, consumed, generated, final, ok): the row's meter and start when they are valid (what
duplicate detection needs even on an invalid row), its values, and whether the whole row is valid."""


class CellChecks:
    """Every rule but duplicates, on the cells of one file, with the per-file caches of what was valid.

    `ok_meters`, `instants` and `finals` are what the row loop's fast path consults: they are only ever
    cleared, never replaced, so a bound `get` stays valid for the whole file. `columns` are the column
    positions by name, set once the header has been read.
    """

    def __init__(
        self, lookup: MeterLookup, now: datetime, errors: ErrorLog, seen: dict[str, dict[int, int]] | None = None
    ) -> None:
        self._lookup = lookup
        self._now = now
        self._errors = errors
        self.columns: dict[str, int] = {}
        self._meters: dict[str, Meter] = {}
        self.ok_meters: dict[str, Meter] = {}
        self._verdicts: dict[str, MeterVerdict] = {}
        self._seen: dict[str, dict[int, int]] = seen if seen is not None else {}
        """Duplicate masks: meter id -> day ordinal -> a bit per slot seen (pre-set by a caller that validates a
        file in pieces, with what earlier pieces held)"""
        self.instants: dict[str, Instant] = {}
        self.finals: dict[str, bool] = {
            spelling: value
            for word, value in FINAL_SPELLINGS.items()
            for spelling in (word, word.upper(), word.capitalize())
        }
        self._regions: dict[str, str] = {}

    def check_row(
        self, row: list[str], line_num: int
    ) -> tuple[Meter | None, Instant | None, float | None, float | None, float | None, bool, bool]:
        """All rules but duplicates on one row: (meter, start) when valid (for duplicate detection), the
        values, and whether the row is valid. Reports every error; caches what is valid for the fast path."""
        columns = self.columns
        line = line_of(row, line_num)
        ok = True
        value = row[columns[Column.METER_ID]]
        meter = self._meters.get(value) or self._meter(value)
        if meter.error is not None:
            self._errors.emit(line, Column.METER_ID, *meter.error)
            ok = False
        start_value, end_value = row[columns[Column.START]], row[columns[Column.END]]
        start = self.instants.get(start_value) or self._instant(start_value)
        end = self.instants.get(end_value) or self._instant(end_value)
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
        if meter.error is None and len(self.ok_meters) < CACHE_LIMIT:
            self.ok_meters[value] = meter
        valid_meter = meter if meter.error is None else None
        return valid_meter, (start if start.q is not None else None), net, consumed, generated, final, ok

    def _energies(self, row: list[str], line: int) -> tuple[float | None, float | None, float | None, bool]:
        """The three energies (None when not given) and whether they are valid together."""
        values: dict[Column, float | None] = {}
        given: set[Column] = set()
        ok = True
        for column in (Column.NET, Column.CONSUMED, Column.GENERATED):
            index = self.columns.get(column, -1)
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
            self._errors.emit(line, Column.NET, ErrorCode.NRG_0001, NO_ENERGY_SET)
            ok = False
        elif net is not None and consumed is not None and generated is not None:
            allowed = NRG_TOLERANCE_KWH + NRG_TOLERANCE_RATIO * max(consumed, generated)
            if abs(net - (consumed - generated)) > allowed:
                self._conflict_error(line, net, consumed, generated, allowed)
                ok = False
        return net, consumed, generated, ok

    def _meter(self, value: str) -> Meter:
        if len(self._meters) >= CACHE_LIMIT:
            self._meters.clear()
        text = value.strip()
        if not _UUID.fullmatch(text):
            problem = "is empty" if not text else "is not a valid UUID (8-4-4-4-12 hex digits)"
            meter = Meter(text, {}, frozenset(), (ErrorCode.MTR_0002, f"meter_id {clip(value)} {problem}."))
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
        meter = Meter(meter_id, masks, verdict.regions if error is None else frozenset(), error)
        self._meters[value] = meter
        return meter

    def _instant(self, value: str) -> Instant:
        if len(self.instants) >= CACHE_LIMIT:
            self.instants.clear()
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
        instant = Instant(moment, problem, self._now)
        self.instants[value] = instant
        return instant

    def _time_errors(self, line: int, start_value: str, start: Instant, end_value: str, end: Instant) -> None:
        for column, value, instant, parse_code, rule_code, edge in (
            (Column.START, start_value, start, ErrorCode.STM_0002, ErrorCode.STM_0003, "start"),
            (Column.END, end_value, end, ErrorCode.ETM_0002, ErrorCode.ETM_0003, "end"),
        ):
            if instant.parse_error is not None:
                self._errors.emit(line, column, parse_code, instant.parse_error)
            elif instant.unaligned:
                self._errors.emit(
                    line,
                    column,
                    rule_code,
                    f"{clip(value)} is not a 15-minute {edge} (minutes 00/15/30/45, zero seconds).",
                )
            elif instant.future:
                self._errors.emit(
                    line, column, rule_code, f"{clip(value)} is in the future (after {self._now_text()})."
                )
        if start.q is not None and end.q is not None and end.q - start.q != 1:
            minutes = (end.q - start.q) * 15
            self._errors.emit(
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
            self._errors.emit(line, column, codes[0], f"{column} {clip(value)} {refusal(value)}.")
        elif number < 0.0 and column is not Column.NET:
            self._errors.emit(line, column, codes[1], f"{column} {clip(value)} is negative; it must be 0 or more.")
        else:
            self._errors.emit(line, column, ErrorCode.NRG_0004, f"{column} {clip(value)} {_BEYOND_BOUND}")

    def _conflict_error(self, line: int, net: float, consumed: float, generated: float, allowed: float) -> None:
        self._errors.emit(
            line,
            Column.NET,
            ErrorCode.NRG_0003,
            f"energy_net_kwh {net:g} differs from consumed - generated = {consumed - generated:g} "
            f"by more than {allowed:.4g} kWh (0.002 kWh + 0.1 %).",
        )

    def _final(self, line: int, value: str) -> bool | None:
        flag = FINAL_SPELLINGS.get(value.strip().lower())
        if flag is None:
            self._errors.emit(
                line, Column.FINAL, ErrorCode.FNL_0002, f"final {clip(value)} is not true/false, 1/0 or yes/no."
            )
        elif len(self.finals) < 1_000:
            self.finals[value] = flag
        return flag

    def _region_fits(self, line: int, value: str, meter: Meter) -> bool:
        """Whether the region cell is valid and fits the meter (reporting why not)."""
        region = self._regions.get(value)
        if region is None:
            region = self._region(line, value)
        if region is None:
            return False
        if region and meter.regions and region not in meter.regions:
            message = f"{clip(value)} is not this meter's region; it is in {' / '.join(sorted(meter.regions))}."
            self._errors.emit(line, Column.REGION, ErrorCode.REG_0003, message)
            return False
        if meter.error is None and len(meter.region_ok) < 64:
            meter.region_ok.add(value)
        return True

    def _region(self, line: int, value: str) -> str | None:
        text = value.strip().upper()
        if not text:
            return ""  # blank: not given (falsy, so never checked against the meter)
        if not _REGION_WORD.fullmatch(text):
            self._errors.emit(
                line, Column.REGION, ErrorCode.REG_0002, f"region {clip(value)} is not a state code or region name."
            )
            return None
        if text not in US_STATES and text not in REGIONS:
            self._errors.emit(
                line,
                Column.REGION,
                ErrorCode.REG_0003,
                f"region {clip(value)} is not a US state code or a transmission region ({', '.join(sorted(REGIONS))}).",
            )
            return None
        if len(self._regions) < 1_000:
            self._regions[value] = text
        return text
