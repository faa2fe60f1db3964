"""In-memory meter repository.

Why it exists: the meter use cases (create, update, search, the batch worker, Connect's meter linking) are
unit tested without moto. tests/integration/parity/test_meters_port.py holds it to DynamoMeterRepository's
contract: ReferenceTaken (naming the holder) for a taken reference and plain AlreadyExists for a taken meter id,
nothing written on either; replace only over the expected version (Conflict otherwise, a missing meter
included), and replace_all so for every meter or, with Conflict, for none; move_references takes the new
references (ReferenceTaken naming a holder; a swap is allowed), frees the old ones and replaces the meters, or
changes nothing; search in creation order with the adapter's own paging (`_page`, `_sort_key`), so cursors
are the same strings; everything keyed by partner; records are copies.

What it deliberately does not model: the GSI's eventual consistency (a meter is searchable at once here),
DynamoDB's 1 MB query pages and the server-side filter (the results are the same, the reads are not), the
400 KB item limit, and throttling.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from meterhub.meters.adapters.dynamodb import _page, _sort_key
from meterhub.meters.ports import MeterPage, MeterQuery, ReferenceTaken
from meterhub.meters.records import GroupChange, MarketGroupPeriod, MeterRecord
from meterhub.platform.errors import AlreadyExists, Conflict


class InMemoryMeterRepository:
    """The port over two dicts: meters by (partner, id) and the reference guard by (partner, reference)."""

    def __init__(self) -> None:
        self.meters: dict[tuple[str, str], MeterRecord] = {}
        self.references: dict[tuple[str, str], str] = {}

    def create(self, meter: MeterRecord) -> None:
        ref_key = (meter.partner_id, meter.partner_reference)
        if ref_key in self.references:
            raise ReferenceTaken(self.references[ref_key])
        if (meter.partner_id, meter.meter_id) in self.meters:
            raise AlreadyExists("Already exists")
        self.references[ref_key] = meter.meter_id
        self.meters[(meter.partner_id, meter.meter_id)] = meter.model_copy(deep=True)

    def replace(self, meter: MeterRecord, expected_version: int) -> None:
        current = self.meters.get((meter.partner_id, meter.meter_id))
        if current is None or current.version != expected_version:
            raise Conflict("The meter changed while it was being updated; retry")
        self.meters[(meter.partner_id, meter.meter_id)] = meter.model_copy(deep=True)

    def replace_all(self, replacements: Sequence[tuple[MeterRecord, int]]) -> None:
        for meter, expected_version in replacements:
            current = self.meters.get((meter.partner_id, meter.meter_id))
            if current is None or current.version != expected_version:
                raise Conflict("A meter changed while it was being updated; retry")
        for meter, _ in replacements:
            self.meters[(meter.partner_id, meter.meter_id)] = meter.model_copy(deep=True)

    def move_references(self, moves: Sequence[tuple[MeterRecord, str, int]]) -> None:
        releasers = {(meter.partner_id, previous): meter.meter_id for meter, previous, _ in moves}
        for meter, _, _ in moves:
            new_key = (meter.partner_id, meter.partner_reference)
            holder = self.references.get(new_key)
            if holder not in (None, meter.meter_id, releasers.get(new_key)):
                raise ReferenceTaken(str(holder), meter.partner_reference)
        for meter, previous, expected_version in moves:
            current = self.meters.get((meter.partner_id, meter.meter_id))
            new_key = (meter.partner_id, meter.partner_reference)
            if (
                current is None
                or current.version != expected_version
                or self.references.get((meter.partner_id, previous)) != meter.meter_id
                or self.references.get(new_key) != releasers.get(new_key)
            ):
                raise Conflict("A meter changed while its reference was being corrected; retry")
        for meter, previous, _ in moves:
            del self.references[(meter.partner_id, previous)]
        for meter, _, _ in moves:
            self.references[(meter.partner_id, meter.partner_reference)] = meter.meter_id
            self.meters[(meter.partner_id, meter.meter_id)] = meter.model_copy(deep=True)

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        meter = self.meters.get((partner_id, meter_id))
        return meter.model_copy(deep=True) if meter else None

    def get_by_reference(self, partner_id: str, partner_reference: str) -> MeterRecord | None:
        meter_id = self.references.get((partner_id, partner_reference))
        return self.get(partner_id, meter_id) if meter_id else None

    def search(self, partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> MeterPage:
        own: Iterable[MeterRecord] = (m for (pid, _), m in self.meters.items() if pid == partner_id)
        page = _page(iter(sorted(own, key=_sort_key)), query, page_size, cursor)
        return MeterPage([meter.model_copy(deep=True) for meter in page.meters], page.cursor)

    def due_for_review(self, now: datetime) -> Iterator[tuple[str, str]]:
        due = [
            (meter.enrollment.review_at, pid, mid)
            for (pid, mid), meter in self.meters.items()
            if meter.enrollment is not None and meter.enrollment.review_at <= now
        ]
        for _, pid, mid in sorted(due):
            yield pid, mid

    def without_enrollment(self) -> Iterator[tuple[str, str]]:
        yield from sorted(key for key, meter in self.meters.items() if meter.enrollment is None)


class InMemoryGroupMembership:
    """The GroupMembership port over a set of members and a dict of marks (group key -> change).

    Held to DynamoGroupMembership by tests/integration/test_group_membership.py: members listed in id order, a
    mark replaced by every change with a new version, cleared only while it holds the version read."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str, str], set[str]] = {}
        self._marks: dict[tuple[str, str, str], GroupChange] = {}

    @staticmethod
    def _key(group: MarketGroupPeriod) -> tuple[str, str, str]:
        return group.partner_id, group.market_group_id, group.delivery_period

    def record(self, group: MarketGroupPeriod, meter_id: str, joined: bool, at: datetime) -> None:
        members = self._members.setdefault(self._key(group), set())
        if joined:
            members.add(meter_id)
        else:
            members.discard(meter_id)
        self._marks[self._key(group)] = GroupChange(group=group, version=uuid.uuid4().hex, changed_at=at)

    def changed(self) -> Iterator[GroupChange]:
        yield from list(self._marks.values())

    def members(self, group: MarketGroupPeriod) -> Iterator[str]:
        yield from sorted(self._members.get(self._key(group), ()))

    def clear(self, change: GroupChange) -> bool:
        key = self._key(change.group)
        mark = self._marks.get(key)
        if mark is None or mark.version != change.version:
            return False
        del self._marks[key]
        return True
