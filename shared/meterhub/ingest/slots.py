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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from meterhub.ingest.model import IntervalRow

SLOTS_PER_DAY = 96
SLOT_MINUTES = 15
ALL_SLOTS = (1 << SLOTS_PER_DAY) - 1

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


def _empty() -> list[float | None]:
    return [None] * SLOTS_PER_DAY


@dataclass(slots=True, eq=True)
class DaySlots:
    """The 96 slots of one meter-day. Bit `i` of `present` / `final` says slot `i` holds a value / is final.

    Lists of 96 nullable numbers plus two 96-bit masks are what one DynamoDB item stores (`to_record`):
    ~1-2 KB, so one write of ~2 WCU replaces up to 96 row-writes.
    """

    net: list[float | None]
    consumed: list[float | None]
    generated: list[float | None]
    present: int = 0
    final: int = 0

    @classmethod
    def empty(cls) -> DaySlots:
        return cls(_empty(), _empty(), _empty())

    def put(self, slot: int, net: float | None, consumed: float | None, generated: float | None, final: bool) -> bool:
        """Apply one interval under the merge rule; False when a final value was kept over a non-final one."""
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
        return (slot for slot in range(SLOTS_PER_DAY) if present >> slot & 1)

    @property
    def count(self) -> int:
        return self.present.bit_count()

    def missing(self) -> Iterator[int]:
        """The slots without a value (the raw material of the gap search)."""
        present = self.present
        return (slot for slot in range(SLOTS_PER_DAY) if not present >> slot & 1)

    def to_record(self) -> dict[str, Any]:
        """Plain values for one storage item: three lists of 96 numbers-or-None and the two masks."""
        return {
            "net": list(self.net),
            "consumed": list(self.consumed),
            "generated": list(self.generated),
            "present": self.present,
            "final": self.final,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DaySlots:
        def numbers(name: str) -> list[float | None]:
            values = list(record.get(name) or _empty())
            if len(values) != SLOTS_PER_DAY:
                raise ValueError(f"{name} must hold {SLOTS_PER_DAY} values")
            return [None if value is None else float(value) for value in values]

        present = int(record.get("present", 0))
        final = int(record.get("final", 0))
        if not 0 <= present <= ALL_SLOTS or final & ~present:
            raise ValueError("present/final masks are out of range")
        return cls(numbers("net"), numbers("consumed"), numbers("generated"), present, final)


def merge_day(existing: DaySlots | None, incoming: DaySlots) -> DaySlots:
    """The stored day after `incoming` (a later upload) is applied to `existing`; neither is modified.

    Every slot `incoming` holds replaces the stored one, unless the stored slot is final and the incoming
    one is not. Slots `incoming` does not hold are kept as they are.
    """
    if existing is None:
        net, consumed, generated = list(incoming.net), list(incoming.consumed), list(incoming.generated)
        return DaySlots(net, consumed, generated, incoming.present, incoming.final)
    take = incoming.present & ~(existing.final & ~incoming.final)
    merged = DaySlots(list(existing.net), list(existing.consumed), list(existing.generated))
    for slot in range(SLOTS_PER_DAY):
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
