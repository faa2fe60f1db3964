"""In-memory job repository."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob
from meterhub.platform.errors import Conflict

if TYPE_CHECKING:
    pass
from meterhub.meter_jobs.adapters.dynamodb import asset_sort_key, job_sort_key


class InMemoryJobRepository:
    """A fake with the port's behaviour (conditional outcome + cursor, newest-first listings)."""

    def __init__(self) -> None:
        self.jobs_by_id: dict[tuple[str, str], MeterJob] = {}
        self.outcomes: dict[tuple[str, str, int], AssetOutcome] = {}

    def create(self, job: MeterJob) -> None:
        if (job.partner_id, job.job_id) in self.jobs_by_id:
            raise Conflict("Job already exists")
        self.jobs_by_id[(job.partner_id, job.job_id)] = job

    def get(self, partner_id: str, job_id: str) -> MeterJob | None:
        return self.jobs_by_id.get((partner_id, job_id))

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        for outcome in outcomes:
            self.outcomes[(job.partner_id, job.job_id, outcome.index)] = outcome
        current = self.jobs_by_id[(job.partner_id, job.job_id)]
        if current.status is not JobStatus.PROCESSING or current.next_index != start:
            raise Conflict("The job moved on (finished, or processed by another delivery)")
        counts = Counter(outcome.counter for outcome in outcomes)
        update: dict[str, Any] = {name: getattr(current, name) + count for name, count in counts.items()}
        update.update(next_index=start + len(outcomes), updated_at=datetime.now(UTC))
        self.jobs_by_id[(job.partner_id, job.job_id)] = current.model_copy(update=update)

    def finish(self, job: MeterJob, status: JobStatus, reason: str | None = None) -> bool:
        current = self.jobs_by_id[(job.partner_id, job.job_id)]
        if current.status is not JobStatus.PROCESSING:
            return False
        self.jobs_by_id[(job.partner_id, job.job_id)] = current.model_copy(
            update={"status": status, "failure_reason": reason, "updated_at": datetime.now(UTC)}
        )
        return True

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, MeterJob]]:
        own = sorted(
            ((job_sort_key(j), j) for (pid, _), j in self.jobs_by_id.items() if pid == partner_id), reverse=True
        )
        yield from ((k, j) for k, j in own if before is None or k < before)

    def job_assets(self, partner_id: str, job_id: str, after_index: int = -1) -> Iterator[AssetOutcome]:
        own = [a for (pid, jid, i), a in self.outcomes.items() if pid == partner_id and jid == job_id]
        yield from (a for a in sorted(own, key=lambda a: a.index) if a.index > after_index)

    def assets(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, AssetOutcome]]:
        own = sorted(
            ((asset_sort_key(a), a) for (pid, _, _), a in self.outcomes.items() if pid == partner_id), reverse=True
        )
        yield from ((k, a) for k, a in own if before is None or k < before)
