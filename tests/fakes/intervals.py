"""In-memory interval store and upload repository."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

from meterhub.intervals.records import UploadJob
from meterhub.intervals.rules.slots import DaySlots, merge_day
from meterhub.platform.errors import AlreadyExists

if TYPE_CHECKING:
    pass
from meterhub.intervals.adapters.uploads import upload_sort_key


class InMemoryIntervalStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, date], DaySlots] = {}
        self.length_items: dict[tuple[str, str, date, int], DaySlots] = {}

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        self.items[(partner_id, meter_id, day)] = merge_day(self.items.get((partner_id, meter_id, day)), incoming)

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        own = sorted((d, s) for (p, m, d), s in self.items.items() if p == partner_id and m == meter_id)
        yield from ((d, s) for d, s in own if first <= d <= last)

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        item = (partner_id, meter_id, day, incoming.length)
        self.length_items[item] = merge_day(self.length_items.get(item), incoming)

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        own = sorted(((d, n), s) for (p, m, d, n), s in self.length_items.items() if p == partner_id and m == meter_id)
        yield from ((d, s) for (d, _), s in own if first <= d <= last)


class InMemoryUploadRepository:
    def __init__(self) -> None:
        self.by_id: dict[tuple[str, str], UploadJob] = {}
        self.claims: dict[tuple[str, str, str], str] = {}

    def create(self, job: UploadJob) -> None:
        if (job.partner_id, job.job_id) in self.by_id:
            raise AlreadyExists("Upload job already exists")
        self.by_id[(job.partner_id, job.job_id)] = job

    def save(self, job: UploadJob) -> None:
        self.by_id[(job.partner_id, job.job_id)] = job

    def get(self, partner_id: str, job_id: str) -> UploadJob | None:
        return self.by_id.get((partner_id, job_id))

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        return self.claims.setdefault((partner_id, object_key, version), job_id)

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, UploadJob]]:
        own = sorted(((upload_sort_key(j), j) for (p, _), j in self.by_id.items() if p == partner_id), reverse=True)
        yield from ((k, j) for k, j in own if before is None or k < before)
