"""In-memory meter repository."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import Conflict

if TYPE_CHECKING:
    pass
from meterhub.meters.adapters.dynamodb import _page, _sort_key
from meterhub.meters.ports import MeterPage, MeterQuery, ReferenceTaken


class InMemoryMeterRepository:
    """A fake with the port's behaviour (conditional create, versioned replace, ordered search)."""

    def __init__(self) -> None:
        self.meters: dict[tuple[str, str], MeterRecord] = {}
        self.references: dict[tuple[str, str], str] = {}

    def create(self, meter: MeterRecord) -> None:
        ref_key = (meter.partner_id, meter.partner_reference)
        if ref_key in self.references:
            raise ReferenceTaken(self.references[ref_key])
        self.references[ref_key] = meter.meter_id
        self.meters[(meter.partner_id, meter.meter_id)] = meter

    def replace(self, meter: MeterRecord, expected_version: int) -> None:
        current = self.meters.get((meter.partner_id, meter.meter_id))
        if current is None or current.version != expected_version:
            raise Conflict("The meter changed while it was being updated; retry")
        self.meters[(meter.partner_id, meter.meter_id)] = meter

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        return self.meters.get((partner_id, meter_id))

    def get_by_reference(self, partner_id: str, partner_reference: str) -> MeterRecord | None:
        meter_id = self.references.get((partner_id, partner_reference))
        return self.get(partner_id, meter_id) if meter_id else None

    def search(self, partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> MeterPage:
        own: Iterable[MeterRecord] = (m for (pid, _), m in self.meters.items() if pid == partner_id)
        return _page(iter(sorted(own, key=_sort_key)), query, page_size, cursor)
