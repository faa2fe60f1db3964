"""Interval storage shape: one record per meter per UTC day holding its 96 fifteen-minute slots.

Why per day: a partner's daily file touches ~96 intervals per meter, so one item per meter-day turns a
million rows into ~10,000 writes, and a day is also what gap searches and read-backs page over.

Slot `i` of day `D` is the interval starting at `D 00:00Z + 15 min * i` (`i = minutes since midnight // 15`,
0..95). Days are UTC days, so daylight-saving time never applies: every day has exactly 96 slots, including
the US DST days (2025-03-09, 2025-11-02) whose local clocks have 92 or 100 quarter-hours.

The merge rule (issue 3): a later value replaces an earlier one for the same slot, except that a `final`
value is only replaced by another `final` value. A slot is replaced as a whole (net, consumed, generated and
the final flag together): mixing quantities from two uploads could break net = consumed - generated.
A re-upload of part of a day changes only the slots it carries.

Readings of another length (a utility's hourly, half-hourly or 5-minute data) are never split into, or
averaged onto, 15-minute slots: a `DaySlots` of length L keeps one meter-day at the reading's own length
(86400/L slots, L dividing a day and at least a minute) under the same merge rule, stored apart from the
15-minute day. The ingest pipeline's hot path (`group_by_day`, the validator's grouping) writes the slot
lists directly and never looks at the length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from math import gcd
from typing import Any

from meterhub.intervals.rules.model import IntervalRow

SLOTS_PER_DAY = 96
SLOT_MINUTES = 15
ALL_SLOTS = (1 << SLOTS_PER_DAY) - 1
SLOT = timedelta(minutes=SLOT_MINUTES)
DAY_SECONDS = 86_400
SLOT_SECONDS = SLOT_MINUTES * 60
MIN_LENGTH_SECONDS = 60
"""Shortest length kept apart: a day of 60-second readings is 1,440 slots (~45 KB as one item), well under
DynamoDB's 400 KB item limit; shorter lengths (a 1-second day would be ~2.5 MB) cannot be one item."""

DayKey = tuple[str, date]
"""(meter_id, UTC day)."""


def slot_index(moment: datetime) -> int:
    """The slot of a UTC instant on a 15-minute boundary; ValueError for anything else."""
    offset = moment.utcoffset()
    if offset is None or offset:
        raise ValueError(f"{moment.isoformat()} is not a UTC time")
    if moment.minute % SLOT_MINUTES or moment.second or moment.microsecond:
        raise ValueError(f"{moment.isoformat()} is not on a 15-minute boundary")
    return (moment.hour * 60 + moment.minute) // SLOT_MINUTES


def slot_start(day: date, slot: int) -> datetime:
    """The UTC start of slot `slot` of `day`."""
    if not 0 <= slot < SLOTS_PER_DAY:
        raise ValueError(f"slot must be 0..{SLOTS_PER_DAY - 1}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=SLOT_MINUTES * slot)


def floor_slot(moment: datetime) -> datetime:
    """The 15-minute boundary at or before `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % SLOT_MINUTES, second=0, microsecond=0)


def ceil_slot(moment: datetime) -> datetime:
    """The 15-minute boundary at or after `moment` (UTC)."""
    floor = floor_slot(moment)
    return floor if floor == moment else floor + SLOT


@dataclass(slots=True, eq=True)
class DaySlots:
    """The slots of one meter-day at one interval length, `length` seconds (15 minutes unless said): 96
    slots for the partner-upload days, 86400/length for a utility's own length. Bit `i` of `present` /
    `final` says slot `i` holds a value / is final; slot `i` starts at `day 00:00Z + length * i`.

    Lists of nullable numbers plus two masks are what one DynamoDB item stores (`to_record`): for 15
    minutes ~1-2 KB, so one write of ~2 WCU replaces up to 96 row-writes.
    """

    net: list[float | None]
    consumed: list[float | None]
    generated: list[float | None]
    present: int = 0
    final: int = 0
    length: int = SLOT_SECONDS

    @classmethod
    def empty(cls, length: int = SLOT_SECONDS) -> DaySlots:
        """An empty day of `length`-second slots; ValueError for a length `length_problem` refuses."""
        if length != SLOT_SECONDS:
            problem = length_problem(length)
            if problem is not None:
                raise ValueError(f"{length}-second readings cannot be kept as a day of their own length: {problem}")
        size = DAY_SECONDS // length
        return cls([None] * size, [None] * size, [None] * size, 0, 0, length)

    @property
    def size(self) -> int:
        """How many slots the day has (86400 / length)."""
        return DAY_SECONDS // self.length

    def put(self, slot: int, net: float | None, consumed: float | None, generated: float | None, final: bool) -> bool:
        """Apply one interval under the merge rule; False when a final value was kept over a non-final one."""
        if not 0 <= slot < self.size:
            raise ValueError(f"slot must be 0..{self.size - 1}")
        bit = 1 << slot
        if self.final & bit and not final:
            return False
        self.net[slot] = net
        self.consumed[slot] = consumed
        self.generated[slot] = generated
        self.present |= bit
        self.final = self.final | bit if final else self.final & ~bit
        return True

    def has(self, slot: int) -> bool:
        return bool(self.present >> slot & 1)

    def is_final(self, slot: int) -> bool:
        return bool(self.final >> slot & 1)

    def slots(self) -> Iterator[int]:
        """The slots that hold a value, in time order."""
        present = self.present
        return (slot for slot in range(self.size) if present >> slot & 1)

    @property
    def count(self) -> int:
        return self.present.bit_count()

    def missing(self) -> Iterator[int]:
        """The slots without a value (the raw material of the gap search)."""
        present = self.present
        return (slot for slot in range(self.size) if not present >> slot & 1)

    def to_record(self) -> dict[str, Any]:
        """Plain values for one storage item: three lists of numbers-or-None and the two masks. A day of
        another length than 15 minutes also carries its length, so its record can never be read at the wrong
        length; a 15-minute day's record is as it always was, without one."""
        record: dict[str, Any] = {} if self.length == SLOT_SECONDS else {"length": self.length}
        record.update(
            net=list(self.net),
            consumed=list(self.consumed),
            generated=list(self.generated),
            present=self.present,
            final=self.final,
        )
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DaySlots:
        """The day `to_record` wrote; ValueError for a record that does not fit its length (a record that
        names a length must name one `length_problem` accepts, never 15 minutes)."""
        length = SLOT_SECONDS
        if "length" in record:
            length = int(record["length"])
            problem = length_problem(length)
            if problem is not None:
                raise ValueError(f"{length}-second readings cannot be kept as a day of their own length: {problem}")
        size = DAY_SECONDS // length

        def numbers(name: str) -> list[float | None]:
            values = list(record.get(name) or [None] * size)
            if len(values) != size:
                raise ValueError(f"{name} must hold {size} values")
            return [None if value is None else float(value) for value in values]

        present = int(record.get("present", 0))
        final = int(record.get("final", 0))
        if not 0 <= present < 1 << size or final & ~present:
            raise ValueError("present/final masks are out of range")
        return cls(numbers("net"), numbers("consumed"), numbers("generated"), present, final, length)


def merge_day(existing: DaySlots | None, incoming: DaySlots) -> DaySlots:
    """The stored day after `incoming` (a later upload) is applied to `existing`; neither is modified.

    Every slot `incoming` holds replaces the stored one (as a whole), unless the stored slot is final and
    the incoming one is not. Slots `incoming` does not hold are kept as they are. ValueError when the lengths
    differ (two lengths are two items, never one).
    """
    if existing is None:
        net, consumed, generated = list(incoming.net), list(incoming.consumed), list(incoming.generated)
        return DaySlots(net, consumed, generated, incoming.present, incoming.final, incoming.length)
    if existing.length != incoming.length:
        raise ValueError(f"cannot merge {incoming.length}-second slots into a {existing.length}-second day")
    take = incoming.present & ~(existing.final & ~incoming.final)
    merged = DaySlots(list(existing.net), list(existing.consumed), list(existing.generated), length=existing.length)
    for slot in range(existing.size):
        if take >> slot & 1:
            merged.net[slot] = incoming.net[slot]
            merged.consumed[slot] = incoming.consumed[slot]
            merged.generated[slot] = incoming.generated[slot]
    merged.present = existing.present | take
    merged.final = (existing.final & ~take) | (incoming.final & take)
    return merged


def group_by_day(rows: Iterable[IntervalRow]) -> dict[DayKey, DaySlots]:
    """Rows (in upload order) gathered into one `DaySlots` per meter and UTC day, under the merge rule.

    Meant for a bounded batch: give it `islice(rows, N)` and flush the result, so memory is set by N, not
    by the file (`day_batches` does exactly that).
    """
    groups: dict[DayKey, DaySlots] = {}
    get = groups.get
    empty = DaySlots.empty
    for meter_id, _start, day, slot, net, consumed, generated, final in rows:
        key = (meter_id, day)
        record = get(key)
        if record is None:
            record = groups[key] = empty()
        bit = 1 << slot
        if record.final & bit and not final:
            continue
        record.net[slot] = net
        record.consumed[slot] = consumed
        record.generated[slot] = generated
        record.present |= bit
        if final:
            record.final |= bit
        else:
            record.final &= ~bit
    return groups


def day_batches(rows: Iterable[IntervalRow], batch_rows: int = 50_000) -> Iterator[dict[DayKey, DaySlots]]:
    """`group_by_day` over successive batches of at most `batch_rows` rows, until the rows run out.

    A meter-day that spans two batches appears in both; the writer merges each into storage with
    `merge_day`, so the result is the same as grouping the whole file at once.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    iterator = iter(rows)
    while True:
        batch = group_by_day(islice(iterator, batch_rows))
        if not batch:
            return
        yield batch


# ----- readings at another length (the utility's own interval length) --------------------------------------


def length_problem(length: int) -> str | None:
    """Why readings of `length` seconds cannot be kept as a day of their own length, or None when they can.

    15-minute readings go to the 15-minute days (the partner-upload days); every other length must tile a UTC day
    exactly (so its slot `i` always starts at `i * length` since midnight and a reading never spans two days)
    and be at least a minute long (one day of it must fit one storage item).
    """
    if length == SLOT_SECONDS:
        return "15-minute readings are stored as 15-minute days"
    if length <= 0 or DAY_SECONDS % length:
        return "length_does_not_divide_a_day"
    if length < MIN_LENGTH_SECONDS:
        return "length_under_a_minute"
    return None


def length_slot_index(moment: datetime, length: int) -> int:
    """The slot of a UTC instant starting a `length`-second interval of its UTC day; ValueError for anything
    else (another offset, or not on a multiple of `length` since midnight UTC)."""
    offset = moment.utcoffset()
    if offset is None or offset:
        raise ValueError(f"{moment.isoformat()} is not a UTC time")
    since_midnight = moment.hour * 3600 + moment.minute * 60 + moment.second
    if moment.microsecond or since_midnight % length:
        raise ValueError(f"{moment.isoformat()} is not on a {length}-second boundary")
    return since_midnight // length


def length_slot_start(day: date, slot: int, length: int) -> datetime:
    """The UTC start of slot `slot` of a day of `length`-second slots."""
    if not 0 <= slot < DAY_SECONDS // length:
        raise ValueError(f"slot must be 0..{DAY_SECONDS // length - 1}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=length * slot)


def covered_slots(days: Iterable[DaySlots]) -> int:
    """The 96-bit mask of the 15-minute slots of one UTC day whose whole span is covered by stored readings
    of these days of other lengths (together): an hourly reading covers its four quarter-hours; a quarter-hour is
    covered by 5-minute readings only when all three are stored; a 20-minute grid covers a quarter-hour that
    straddles two of its readings only when both are stored.

    Coverage is built on a grid of gcd(900, lengths) seconds, so every reading and every quarter-hour is a
    whole number of grid units whatever the lengths.
    """
    held = [day for day in days if day.present]
    if not held:
        return 0
    unit = gcd(SLOT_SECONDS, *(day.length for day in held))
    per_slot = SLOT_SECONDS // unit
    cover = 0
    for day in held:
        per_reading = day.length // unit
        run = (1 << per_reading) - 1
        for slot in day.slots():
            cover |= run << (slot * per_reading)
    whole = (1 << per_slot) - 1
    mask = 0
    for slot in range(SLOTS_PER_DAY):
        if cover >> (slot * per_slot) & whole == whole:
            mask |= 1 << slot
    return mask
