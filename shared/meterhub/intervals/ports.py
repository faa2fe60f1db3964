"""The interval store, upload repository and meter-source ports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Protocol

from meterhub.intervals.records import PartsDone, StepProgress, UploadJob
from meterhub.intervals.rules.slots import DaySlots
from meterhub.meters.records import MeterRecord


class MeterSource(Protocol):
    """The part of `MeterRepository` ingestion needs (structural, so no storage import here)."""

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None: ...


class IntervalStore(Protocol):
    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None: ...

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        """The stored days first..last (inclusive), in order."""

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        """Merge readings of another length into the meter's day of that length (its own item)."""

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        """The stored length days first..last (inclusive), in (day, length) order."""


class UploadRepository(Protocol):
    def create(self, job: UploadJob) -> None:
        """Store a new job; AlreadyExists when the id is taken."""

    def save(self, job: UploadJob) -> None:
        """Overwrite the job (status, counters, errors). One ingest run owns a job at a time."""

    def get(self, partner_id: str, job_id: str) -> UploadJob | None: ...

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        """The job id of this object version: `job_id` when this call claimed it, else the earlier claim's."""

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, UploadJob]]:
        """Newest first, as (sort key, job); `before` resumes after a sort key."""

    def mark_part_done(
        self, partner_id: str, job_id: str, step: str, part: int, counts: Mapping[str, int] | None = None
    ) -> PartsDone:
        """Record, atomically, that `part` of the job's `step` is done: the join of a file cut into pieces.

        Two parts finishing at once both count, and exactly one of them sees the last count; a repeated part
        counts once (`first` False), and so do its `counts`, added to the step's sums in the same atomic write
        as the part itself (a retried or redelivered piece never counts its rows twice). Kept apart from the
        job's own record, which `save` overwrites whole."""

    def step_progress(self, partner_id: str, job_id: str, step: str) -> StepProgress:
        """The distinct parts of the job's `step` recorded done and the sums of their counts (0, {} when none)."""


class WorkerSlots(Protocol):
    """A partner's bounded set of interval worker slots, each held under a lease (use_cases.partner_workers).

    `file_id` (an upload job's id) scopes the same slots to one file of the partner instead: a second, separate
    set with the same leases, so a file's workers are bounded apart from the partner's."""

    def acquire(
        self,
        partner_id: str,
        limit: int,
        holder: str,
        now: datetime,
        lease_until: datetime,
        file_id: str | None = None,
    ) -> int | None:
        """Take one of the partner's (or its file's) slots 0..limit-1 that is free or whose lease ended before
        `now`, for `holder` until `lease_until`, atomically (two callers never hold one slot); None when all
        `limit` are held."""

    def release(self, partner_id: str, slot: int, holder: str, file_id: str | None = None) -> None:
        """Free `slot` if `holder` still holds it (a lease taken over by another after it ended is theirs)."""
