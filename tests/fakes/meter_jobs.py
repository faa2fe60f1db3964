"""In-memory job repository.

Why it exists: the batch-job use cases (submit, the worker's chunked exactly-once accounting, the job and
provisional-asset listings) are unit tested without moto. tests/integration/parity/test_meter_jobs_port.py
holds it to DynamoJobRepository's contract: AlreadyExists for a taken job id; a chunk's outcomes are written
first and the counters and cursor move only over a PROCESSING job whose cursor is at the chunk's start
(Conflict otherwise, a missing job included); `finish` is False for a job that left PROCESSING or does not
exist, and keeps the stored failure reason when given none; listings newest first by the adapter's own sort
keys (`job_sort_key`, `asset_sort_key`), so page tokens are the same strings; records are copies.

What it deliberately does not model: BatchWriteItem's unprocessed items and their retries, the GSI's eventual
consistency, query pages, and throttling (StorageUnavailable).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from meterhub.meter_jobs.adapters.dynamodb import asset_sort_key, job_sort_key
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob
from meterhub.platform.errors import AlreadyExists, Conflict


class InMemoryJobRepository:
    """The port over two dicts: jobs by (partner, job id), outcomes by (partner, job id, index)."""

    def __init__(self) -> None:
        self.jobs_by_id: dict[tuple[str, str], MeterJob] = {}
        self.outcomes: dict[tuple[str, str, int], AssetOutcome] = {}

    def create(self, job: MeterJob) -> None:
        if (job.partner_id, job.job_id) in self.jobs_by_id:
            raise AlreadyExists("Job already exists")
        self.jobs_by_id[(job.partner_id, job.job_id)] = job.model_copy(deep=True)

    def get(self, partner_id: str, job_id: str) -> MeterJob | None:
        job = self.jobs_by_id.get((partner_id, job_id))
        return job.model_copy(deep=True) if job else None

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        for outcome in outcomes:
            self.outcomes[(job.partner_id, job.job_id, outcome.index)] = outcome.model_copy(deep=True)
        current = self.jobs_by_id.get((job.partner_id, job.job_id))
        if current is None or current.status is not JobStatus.PROCESSING or current.next_index != start:
            raise Conflict("The job moved on (finished, or processed by another delivery)")
        counts = Counter(outcome.counter for outcome in outcomes)
        update: dict[str, Any] = {name: getattr(current, name) + count for name, count in counts.items()}
        update.update(next_index=start + len(outcomes), updated_at=datetime.now(UTC))
        self.jobs_by_id[(job.partner_id, job.job_id)] = current.model_copy(update=update)

    def finish(self, job: MeterJob, status: JobStatus, reason: str | None = None) -> bool:
        current = self.jobs_by_id.get((job.partner_id, job.job_id))
        if current is None or current.status is not JobStatus.PROCESSING:
            return False
        update: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
        if reason:
            update["failure_reason"] = reason
        self.jobs_by_id[(job.partner_id, job.job_id)] = current.model_copy(update=update)
        return True

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, MeterJob]]:
        own = sorted(
            ((job_sort_key(j), j) for (pid, _), j in self.jobs_by_id.items() if pid == partner_id), reverse=True
        )
        yield from ((k, j.model_copy(deep=True)) for k, j in own if before is None or k < before)

    def job_assets(self, partner_id: str, job_id: str, after_index: int = -1) -> Iterator[AssetOutcome]:
        own = [a for (pid, jid, i), a in self.outcomes.items() if pid == partner_id and jid == job_id]
        yield from (a.model_copy(deep=True) for a in sorted(own, key=lambda a: a.index) if a.index > after_index)

    def assets(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, AssetOutcome]]:
        own = sorted(
            ((asset_sort_key(a), a) for (pid, _, _), a in self.outcomes.items() if pid == partner_id), reverse=True
        )
        yield from ((k, a.model_copy(deep=True)) for k, a in own if before is None or k < before)
