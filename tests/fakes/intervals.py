"""In-memory interval store and upload repository.

Why they exist: ingestion (the 15-minute and other-length merges, the read-back, the gap search) and the
upload use cases (create, claim an S3 object version, save progress, list) are unit tested and benchmarked
without moto. tests/integration/parity/test_intervals_port.py holds them to DynamoIntervalStore's and
DynamoUploadRepository's contract: merges under the adapter's own rule (`merge_day`, for every length);
inclusive day ranges in order, length days in (day, length) order and apart from the 15-minute days; a job id
created once (AlreadyExists); the first claim of an object version wins, per partner; uploads newest first by
the adapter's own `upload_sort_key`, so page tokens are the same strings; everything keyed by partner; what is
read back is a copy; a partner's worker slots taken up to their limit, an ended lease taken over, a slot freed
only by its holder.

What they deliberately do not model: the read-modify-conditional-put retries of a concurrent merge (and the
Conflict after MERGE_ATTEMPTS), throttling and its backoff, the GSI's eventual consistency, and the JSON
round trip of the slots (an int written here reads back as the int, where DynamoDB gives a float: equal).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date, datetime

from meterhub.intervals.adapters.uploads import upload_sort_key
from meterhub.intervals.records import PartsDone, StepProgress, UploadJob
from meterhub.intervals.rules.slots import DaySlots, merge_day
from meterhub.platform.errors import AlreadyExists


class InMemoryIntervalStore:
    """Days by (partner, meter, day); length days by (partner, meter, day, length)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, date], DaySlots] = {}
        self.length_items: dict[tuple[str, str, date, int], DaySlots] = {}

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        self.items[(partner_id, meter_id, day)] = merge_day(self.items.get((partner_id, meter_id, day)), incoming)

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        own = sorted((d, s) for (p, m, d), s in self.items.items() if p == partner_id and m == meter_id)
        yield from ((d, merge_day(None, s)) for d, s in own if first <= d <= last)  # merged onto nothing: a copy

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        item = (partner_id, meter_id, day, incoming.length)
        self.length_items[item] = merge_day(self.length_items.get(item), incoming)

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        own = sorted(((d, n), s) for (p, m, d, n), s in self.length_items.items() if p == partner_id and m == meter_id)
        yield from ((d, merge_day(None, s)) for (d, _), s in own if first <= d <= last)


class InMemoryUploadRepository:
    """Jobs by (partner, job id); object-version claims by (partner, key, version)."""

    def __init__(self) -> None:
        self.by_id: dict[tuple[str, str], UploadJob] = {}
        self.claims: dict[tuple[str, str, str], str] = {}
        self.parts: dict[tuple[str, str, str], set[int]] = {}
        self.counts: dict[tuple[str, str, str], Counter[str]] = {}
        self._parts_lock = threading.Lock()  # the adapter's UpdateItem is atomic; so is this

    def create(self, job: UploadJob) -> None:
        if (job.partner_id, job.job_id) in self.by_id:
            raise AlreadyExists("Upload job already exists")
        self.by_id[(job.partner_id, job.job_id)] = job.model_copy(deep=True)

    def save(self, job: UploadJob) -> None:
        self.by_id[(job.partner_id, job.job_id)] = job.model_copy(deep=True)

    def get(self, partner_id: str, job_id: str) -> UploadJob | None:
        job = self.by_id.get((partner_id, job_id))
        return job.model_copy(deep=True) if job else None

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        return self.claims.setdefault((partner_id, object_key, version), job_id)

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, UploadJob]]:
        own = sorted(((upload_sort_key(j), j) for (p, _), j in self.by_id.items() if p == partner_id), reverse=True)
        yield from ((k, j.model_copy(deep=True)) for k, j in own if before is None or k < before)

    def mark_part_done(
        self, partner_id: str, job_id: str, step: str, part: int, counts: Mapping[str, int] | None = None
    ) -> PartsDone:
        with self._parts_lock:
            done = self.parts.setdefault((partner_id, job_id, step), set())
            first = part not in done
            done.add(part)
            if first and counts:
                self.counts.setdefault((partner_id, job_id, step), Counter()).update(counts)
            return PartsDone(len(done), first)

    def step_progress(self, partner_id: str, job_id: str, step: str) -> StepProgress:
        with self._parts_lock:
            done = self.parts.get((partner_id, job_id, step), set())
            return StepProgress(len(done), dict(self.counts.get((partner_id, job_id, step), {})))


class InMemoryWorkerSlots:
    """Held slots by (partner, file or None, slot): (holder, lease_until); one lock, as the adapter's conditional
    put is atomic."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str | None, int], tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def acquire(
        self,
        partner_id: str,
        limit: int,
        holder: str,
        now: datetime,
        lease_until: datetime,
        file_id: str | None = None,
    ) -> int | None:
        with self._lock:
            for slot in range(limit):
                lease = self.held.get((partner_id, file_id, slot))
                if lease is None or lease[1] < now:
                    self.held[(partner_id, file_id, slot)] = (holder, lease_until)
                    return slot
            return None

    def release(self, partner_id: str, slot: int, holder: str, file_id: str | None = None) -> None:
        with self._lock:
            lease = self.held.get((partner_id, file_id, slot))
            if lease is not None and lease[0] == holder:
                del self.held[(partner_id, file_id, slot)]
