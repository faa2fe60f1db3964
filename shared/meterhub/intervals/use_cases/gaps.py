"""Gaps: the 15-minute intervals partners still owe (`POST /v1.1/missing-interval-data/search`).

Decisions, so the API docs and the tests say the same thing:

    * Meters of this partner, not archived, with a program that takes partner-supplied data. A gap is a
      maximal run of 15-minute intervals without a stored value, from the meter's creation (rounded up to
      the next 15-minute boundary) to the end of the window, clipped to the window.
    * A 15-minute interval whose whole span is covered by stored readings of another length (an hourly
      reading covers its four quarter-hours; 5-minute readings cover a quarter-hour when all three are
      stored) is not missing: the data exists at the utility's length, and reporting it would ask the
      partner for 15-minute data they cannot supply.
    * The window end defaults to now (rounded down to 15 minutes) and is never later than that; without a
      window start the window is the 31 days before its end; a window may span at most 366 days.
    * Submission deadline (our rule; Leap does not publish one): the end of the missing range + 3 days.
    * Every range is OPEN: backfills in progress are not tracked, so `state=PENDING` finds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from meterhub.catalog.enums import MeterType, TransmissionRegion
from meterhub.intervals.api_models import (
    IntervalDataType,
    MissingInterval,
    MissingIntervalSearchState,
    MissingIntervalStatus,
    SearchMissingIntervalDataRequest,
    SearchMissingIntervalDataResponse,
)
from meterhub.intervals.ports import IntervalStore
from meterhub.intervals.rules.slots import (
    ALL_SLOTS,
    SLOT_MINUTES,
    SLOTS_PER_DAY,
    DaySlots,
    ceil_slot,
    covered_slots,
    floor_slot,
    slot_start,
)
from meterhub.intervals.use_cases import arguments
from meterhub.meters.ports import MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.platform import page_tokens
from meterhub.platform.errors import InvalidInput

GAP_DEFAULT_SPAN = timedelta(days=31)
GAP_MAX_SPAN = timedelta(days=366)
SUBMISSION_GRACE = timedelta(days=3)
METERS_PER_QUERY = 100
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class GapWindow:
    start: datetime
    end: datetime
    deadline_from: datetime | None
    deadline_until: datetime | None


WINDOW_START = "missing_interval_window_start_date_time_utc"
WINDOW_END = "missing_interval_window_end_date_time_utc"
DEADLINE_START = "submission_deadline_window_start_date_time_utc"
DEADLINE_END = "submission_deadline_window_end_date_time_utc"


def gap_window(request: SearchMissingIntervalDataRequest, now: datetime) -> GapWindow:
    """The search window on 15-minute boundaries (see the module doc) and the deadline bounds."""
    start = _alias(request.missing_interval_window_start_date_time_utc, request.start_date_time_utc, WINDOW_START)
    end = _alias(request.missing_interval_window_end_date_time_utc, request.end_date_time_utc, WINDOW_END)
    if start and end and start >= end:
        raise InvalidInput(f"Invalid {WINDOW_START}", {WINDOW_START: f"must be before {WINDOW_END}"})
    latest = floor_slot(now)
    window_end = min(floor_slot(end), latest) if end else latest
    window_start = ceil_slot(start) if start else window_end - GAP_DEFAULT_SPAN
    if (end or window_end) - window_start > GAP_MAX_SPAN:
        raise InvalidInput(f"Invalid {WINDOW_START}", {WINDOW_START: "the window may span at most 366 days"})
    low = arguments.aware(request.submission_deadline_window_start_date_time_utc, DEADLINE_START)
    high = arguments.aware(request.submission_deadline_window_end_date_time_utc, DEADLINE_END)
    if low and high and low >= high:
        raise InvalidInput(f"Invalid {DEADLINE_START}", {DEADLINE_START: f"must be before {DEADLINE_END}"})
    return GapWindow(window_start, window_end, low, high)


def _alias(value: datetime | None, alias: datetime | None, field: str) -> datetime | None:
    if value is not None and alias is not None:
        alias_name = "start_date_time_utc" if field == WINDOW_START else "end_date_time_utc"
        raise InvalidInput(f"Invalid {alias_name}", {alias_name: f"give either {alias_name} or {field}, not both"})
    return arguments.aware(value if value is not None else alias, field)


def takes_partner_data(meter: MeterRecord) -> bool:
    """Whether some program of the meter takes partner-supplied interval data (else it has no gaps to fill)."""
    from meterhub.catalog.programs import accepts_partner_interval_data

    try:
        return accepts_partner_interval_data(TransmissionRegion(meter.transmission_region), MeterType(meter.meter_type))
    except ValueError:
        return False


def missing_ranges(
    store: IntervalStore, partner_id: str, meter_id: str, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Maximal runs of slots in [start, end) (15-minute boundaries) without a stored value, in time order.

    A slot whose whole span is covered by stored readings of another length (a utility's hourly data, say)
    is not missing: the data exists at the utility's length, and reporting the slot would ask the partner
    for 15-minute data they cannot supply (`covered_slots` says which slots a day's readings cover).
    """
    if start >= end:
        return
    last_day = (end - _ONE_MICROSECOND).date()
    stored = {day: slots.present for day, slots in store.days(partner_id, meter_id, start.date(), last_day)}
    for day, covered in _covered_by_other_lengths(store, partner_id, meter_id, start.date(), last_day):
        stored[day] = stored.get(day, 0) | covered
    run: datetime | None = None
    day = start.date()
    while day <= last_day:
        low = (start.hour * 60 + start.minute) // SLOT_MINUTES if day == start.date() else 0
        high = (end.hour * 60 + end.minute) // SLOT_MINUTES if day == end.date() else SLOTS_PER_DAY
        window = (ALL_SLOTS >> (SLOTS_PER_DAY - high)) & ~((1 << low) - 1)
        missing = window & ~stored.get(day, 0)
        if missing == ALL_SLOTS:
            run = run or slot_start(day, 0)  # a whole missing day continues (or starts) the run
        elif missing == 0:
            if run is not None:
                yield run, slot_start(day, low)
                run = None
        else:
            for slot in range(low, high):
                if missing >> slot & 1:
                    run = run or slot_start(day, slot)
                elif run is not None:
                    yield run, slot_start(day, slot)
                    run = None
        day += timedelta(days=1)
    if run is not None:
        yield run, end


def _covered_by_other_lengths(
    store: IntervalStore, partner_id: str, meter_id: str, first: date, last: date
) -> Iterator[tuple[date, int]]:
    """Per day first..last holding readings of other lengths, the mask of the 15-minute slots they cover."""
    day: date | None = None
    held: list[DaySlots] = []
    for stored_day, length_day in store.length_days(partner_id, meter_id, first, last):
        if stored_day != day and held:
            assert day is not None
            yield day, covered_slots(held)
            held = []
        day = stored_day
        held.append(length_day)
    if held and day is not None:
        yield day, covered_slots(held)


@dataclass(frozen=True)
class _GapCursor:
    meters_cursor: str | None
    meter_id: str
    after: datetime

    def encode(self) -> str:
        return json.dumps(
            {"p": self.meters_cursor, "m": self.meter_id, "a": self.after.isoformat()}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, text: str) -> _GapCursor:
        try:
            raw: Mapping[str, Any] = json.loads(text)
            cursor = raw["p"]
            meter_id, after = str(raw["m"]), datetime.fromisoformat(str(raw["a"]))
            if (cursor is not None and not isinstance(cursor, str)) or after.tzinfo is None:
                raise ValueError("malformed")
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("page_token is not a token this API issued", {"page_token": text[:64]}) from None
        return cls(cursor, meter_id, after)


def search_missing_intervals(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    request: SearchMissingIntervalDataRequest | None,
    now: datetime | None = None,
) -> SearchMissingIntervalDataResponse:
    """The gaps of this partner's meters that take partner data, meter by meter (creation order), in time order."""
    request = request or SearchMissingIntervalDataRequest()
    window = gap_window(request, arguments.utc_now(now))
    fingerprint = page_tokens.fingerprint(
        request.model_dump(mode="json", exclude={"page_token", "page_size"}, exclude_none=True)
    )
    resume = _GapCursor.decode(page_tokens.decode(request.page_token, fingerprint)) if request.page_token else None
    if request.state is MissingIntervalSearchState.PENDING:
        return SearchMissingIntervalDataResponse(missing_intervals=[])
    query = MeterQuery(
        meter_ids=tuple(str(m) for m in request.meter_ids) if request.meter_ids else None, exclude_archived=True
    )
    selected: list[tuple[_GapCursor, MissingInterval]] = []
    for cursor, gap in _gaps(meters, store, partner_id, query, window, resume):
        if len(selected) == request.page_size:
            token = page_tokens.encode(selected[-1][0].encode(), fingerprint)
            return SearchMissingIntervalDataResponse(missing_intervals=[g for _, g in selected], next_page_token=token)
        selected.append((cursor, gap))
    return SearchMissingIntervalDataResponse(missing_intervals=[g for _, g in selected])


def _gaps(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    query: MeterQuery,
    window: GapWindow,
    resume: _GapCursor | None,
) -> Iterator[tuple[_GapCursor, MissingInterval]]:
    page_cursor = resume.meters_cursor if resume else None
    skipping = resume is not None
    while True:
        page = meters.search(partner_id, query, METERS_PER_QUERY, page_cursor)
        if skipping and resume is not None and all(m.meter_id != resume.meter_id for m in page.meters):
            skipping = False  # the meter is gone: serve the page from its start
        for meter in page.meters:
            after: datetime | None = None
            if skipping and resume is not None:
                if meter.meter_id != resume.meter_id:
                    continue
                skipping, after = False, resume.after
            if not takes_partner_data(meter):
                continue
            start = max(window.start, ceil_slot(meter.created_at))
            for begins, ends in missing_ranges(store, partner_id, meter.meter_id, start, window.end):
                if after is not None and begins <= after:
                    continue
                deadline = ends + SUBMISSION_GRACE
                if (window.deadline_from and deadline < window.deadline_from) or (
                    window.deadline_until and deadline >= window.deadline_until
                ):
                    continue
                gap = MissingInterval(
                    meter_id=uuid.UUID(meter.meter_id),
                    data_type=IntervalDataType.LOAD_DATA,
                    start_date_time_utc=begins,
                    end_date_time_utc=ends,
                    submission_deadline_date_time_utc=deadline,
                    status=MissingIntervalStatus.OPEN,
                )
                yield _GapCursor(page_cursor, meter.meter_id, begins), gap
        if page.cursor is None:
            return
        page_cursor = page.cursor
