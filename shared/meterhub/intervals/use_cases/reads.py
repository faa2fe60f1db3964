"""Stored intervals as partners read them back (`GET /v2/meters/{meter_id}/intervals`).

Decisions, so the API docs and the tests say the same thing:

    * The intervals whose start is in [start, end), at most 31 days per request, in time order.
    * Intervals are returned at the length they were stored at: the 15-minute ones (partner uploads, and
      utilities sending 15-minute data) and those a utility sent at another length (hourly, half-hourly,
      5-minute...), each with its true end (`interval_end_time_utc` = start + its length; the length is
      end - start, no extra field). They are merged in (start, length) order: at one start, the shorter
      interval first. Both kinds may cover the same time (a partner upload and the utility's hourly data):
      both are returned, the API never picks one for the partner.
    * The page token is the (start, length) of the last interval served, so a page may end between two
      intervals with the same start.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from meterhub.intervals.api_models import MeterInterval, MeterIntervalsResponse
from meterhub.intervals.ports import IntervalStore
from meterhub.intervals.rules.slots import SLOT, SLOT_SECONDS, length_problem, length_slot_start, slot_start
from meterhub.intervals.use_cases import arguments
from meterhub.meters.ports import MeterRepository
from meterhub.meters.use_cases.read_meters import load_meter
from meterhub.platform import page_tokens
from meterhub.platform.errors import InvalidInput

DEFAULT_INTERVALS_PAGE = 960
MAX_INTERVALS_PAGE = 9600
MAX_READ_SPAN = timedelta(days=31)
_ONE_MICROSECOND = timedelta(microseconds=1)


def read_intervals(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    meter_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> MeterIntervalsResponse:
    """The meter's stored intervals whose start is in [start, end), in (start, length) order, `page_size` at a
    time: 15-minute intervals and those stored at a utility's own length together (see the module doc).

    `page_size` (1 to MAX_INTERVALS_PAGE) is bounded by the route, this function's only caller.
    """
    meter = load_meter(meters, partner_id, meter_id)
    low, high = arguments.aware(start, "start"), arguments.aware(end, "end")
    if low is None:
        raise InvalidInput("start is required", {"start": "is required"})
    if high is None:
        raise InvalidInput("end is required", {"end": "is required"})
    if high <= low:
        raise InvalidInput("Invalid end", {"end": "must be after start"})
    if high - low > MAX_READ_SPAN:
        raise InvalidInput(
            "Invalid end",
            {"end": "at most 31 days after start per request: read longer periods in several requests"},
        )
    size = DEFAULT_INTERVALS_PAGE if page_size is None else page_size
    fingerprint = page_tokens.fingerprint({"meter_id": meter.meter_id, "start": low, "end": high})
    after = _interval_cursor(page_tokens.decode(page_token, fingerprint, prefix="AFTER#")) if page_token else None
    first = max(low, after[0]) if after else low
    selected: list[_Stored] = []
    # A cursor at or past `end` (a forged token) must not reach storage: an inverted key range is an error there.
    stored = _stored(store, partner_id, meter.meter_id, first, high) if first < high else iter(())
    for interval in stored:
        begins, length = interval[0], interval[1]
        if begins < low or (after is not None and (begins, length) <= after):
            continue
        if begins >= high:
            break
        if len(selected) == size:
            token = page_tokens.encode(_cursor_text(selected[-1][0], selected[-1][1]), fingerprint)
            return MeterIntervalsResponse(
                meter_id=uuid.UUID(meter.meter_id), intervals=_answer(selected), next_page_token=token
            )
        selected.append(interval)
    return MeterIntervalsResponse(meter_id=uuid.UUID(meter.meter_id), intervals=_answer(selected))


_Stored = tuple[datetime, int, float | None, float | None, float | None, bool]
"""One stored interval: start, length in seconds, net, consumed, generated, final."""


def _stored(store: IntervalStore, partner_id: str, meter_id: str, first: datetime, high: datetime) -> Iterator[_Stored]:
    """Every stored interval of the days holding [first, high), both kinds merged in (start, length) order.

    The 15-minute days stream as before; the length days of the range (at most 31 days, usually none) are
    read in one query and sorted, since one day may hold several lengths. Plain tuples: response models are
    built only for the intervals a page returns.
    """
    first_day, last_day = first.date(), (high - _ONE_MICROSECOND).date()
    quarter_hours = (
        (
            slot_start(day, slot),
            SLOT_SECONDS,
            slots.net[slot],
            slots.consumed[slot],
            slots.generated[slot],
            slots.is_final(slot),
        )
        for day, slots in store.days(partner_id, meter_id, first_day, last_day)
        for slot in slots.slots()
    )
    others = sorted(
        (
            (
                length_slot_start(day, slot, held.length),
                held.length,
                held.net[slot],
                held.consumed[slot],
                held.generated[slot],
                held.is_final(slot),
            )
            for day, held in store.length_days(partner_id, meter_id, first_day, last_day)
            for slot in held.slots()
        ),
        key=_order,
    )
    if not others:
        yield from quarter_hours
        return
    yield from heapq.merge(quarter_hours, others, key=_order)


def _order(interval: _Stored) -> tuple[datetime, int]:
    """(start, length): the start order the API promises, the shorter interval first at one start."""
    return interval[0], interval[1]


def _answer(selected: list[_Stored]) -> list[MeterInterval]:
    return [
        MeterInterval(
            interval_start_time_utc=begins,
            interval_end_time_utc=begins + (SLOT if length == SLOT_SECONDS else timedelta(seconds=length)),
            energy_net_kwh=net,
            energy_consumed_kwh=consumed,
            energy_generated_kwh=generated,
            final=final,
        )
        for begins, length, net, consumed, generated, final in selected
    ]


def _cursor_text(begins: datetime, length: int) -> str:
    """`AFTER#<start>` for a 15-minute interval (the format tokens had before other lengths existed, so a
    token issued then still means the same), `AFTER#<start>#<length>` for another length."""
    text = f"AFTER#{begins.isoformat()}"
    return text if length == SLOT_SECONDS else f"{text}#{length}"


def _interval_cursor(cursor: str) -> tuple[datetime, int]:
    """The (start, length) of the last interval served. Tokens are not signed: a forged one may only move
    the cursor within the caller's own meter, and anything malformed is a 400."""
    moment_text, _, length_text = cursor.removeprefix("AFTER#").partition("#")
    try:
        moment = datetime.fromisoformat(moment_text)
        length = int(length_text) if length_text else SLOT_SECONDS
    except ValueError:
        raise InvalidInput("page_token is not a token this API issued", {"page_token": cursor[:64]}) from None
    if moment.tzinfo is None or moment.utcoffset() is None or (length != SLOT_SECONDS and length_problem(length)):
        raise InvalidInput("page_token is not a token this API issued", {"page_token": cursor[:64]})
    return moment.astimezone(UTC), length
