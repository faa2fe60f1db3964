"""The job repository port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob


class JobRepository(Protocol):
    def create(self, job: MeterJob) -> None: ...

    def get(self, partner_id: str, job_id: str) -> MeterJob | None: ...

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        """Store the outcomes of assets start..start+len-1, then count them and move the cursor past them.
        Conflict when the job is not PROCESSING or its cursor is not at `start` (someone else did it)."""

    def finish(self, job: MeterJob, status: JobStatus, reason: str | None = None) -> bool:
        """Move a PROCESSING job to a terminal status; False when it already left PROCESSING."""

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, MeterJob]]:
        """The partner's jobs, newest first, as (sort key, job); `before` resumes after a sort key."""

    def job_assets(self, partner_id: str, job_id: str, after_index: int = -1) -> Iterator[AssetOutcome]: ...

    def assets(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, AssetOutcome]]:
        """The partner's provisional assets across jobs, newest first, as (sort key, asset)."""
