"""Run a batch job's assets through the single-create use case, resumably.

Crash safety, by construction:
- assets are processed in chunks; a chunk's outcomes are stored, then its counts and the job's cursor move in
  one conditional update (meter_jobs/adapters/dynamodb.py), so a redelivered message resumes at the cursor,
  redoes at most the chunk in flight, and never counts an asset twice;
- a new meter gets an id derived from (job_id, index), so an attempt that created the meter but died before
  recording the outcome is recognised on retry as "created by this job", not reported DUPLICATE;
- the worker stops before its time runs out and asks for a continuation, so no invocation nears the Lambda
  limit; a job that keeps failing is ended FAILED with a reason by its last attempt (run_job.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from typing import Any

from pydantic import ValidationError

from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meter_jobs.ports import JobRepository
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob
from meterhub.meter_jobs.use_cases.payload import MAX_ASSET_BYTES, Entry, assets_key
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import StatusDetail
from meterhub.meters.ports import MeterRepository
from meterhub.meters.use_cases.create_meter import AssetRejected, ConnectLink, create_meter
from meterhub.platform.api.field_errors import FieldError, field_errors
from meterhub.platform.object_store import ObjectStore
from meterhub.platform.observability import METER_JOB_ASSETS, METER_JOBS, record_metric

CHUNK_SIZE = 100
"""Assets per recorded chunk: one job update per chunk; a crash redoes at most this many assets."""


class Progress(StrEnum):
    DONE = "DONE"
    MORE = "MORE"
    """Time is nearly up: send a continuation message."""


def meter_id_for(job_id: str, index: int) -> str:
    """Deterministic per (job, asset): a retried create recognises the meter its earlier attempt made."""
    return str(uuid.uuid5(uuid.UUID(job_id), str(index)))


@dataclass(frozen=True)
class Worker:
    jobs: JobRepository
    meters: MeterRepository
    objects: ObjectStore
    connect: Callable[[str], ConnectLink]
    """partner_id -> the Connect link builder used in refusals."""

    def process(self, partner_id: str, job_id: str, time_is_short: Callable[[], bool]) -> Progress:
        job = self.jobs.get(partner_id, job_id)
        if job is None or job.status is not JobStatus.PROCESSING:
            return Progress.DONE  # unknown, or already finished by an earlier delivery: nothing to do
        connect = self.connect(partner_id)
        lines = islice(self.objects.lines(assets_key(partner_id, job_id)), job.next_index, None)
        start = job.next_index
        while chunk := list(islice(lines, CHUNK_SIZE)):
            if time_is_short():
                return Progress.MORE
            outcomes = [self._outcome(job, Entry.from_line(line), connect) for line in chunk]
            self.jobs.record_chunk(job, start, outcomes)
            for asset in outcomes:  # after the chunk is recorded: a chunk redone after a crash counts again
                record_metric(METER_JOB_ASSETS, Outcome=asset.status.value)
            start += len(outcomes)
        self._finish(job)
        return Progress.DONE

    def _finish(self, job: MeterJob) -> None:
        current = self.jobs.get(job.partner_id, job.job_id)
        if current is not None and current.status is JobStatus.PROCESSING:
            if current.processed < current.assets_count:
                self.end(current, JobStatus.FAILED, "the stored payload has fewer assets than the job")
            else:
                self.end(current, current.final_status())

    def end(self, job: MeterJob, status: JobStatus, reason: str | None = None) -> None:
        """Give the job its final status; counted in the MeterJobs metric by the delivery that ended it."""
        if self.jobs.finish(job, status, reason):
            record_metric(METER_JOBS, Status=status.value)

    def _outcome(self, job: MeterJob, entry: Entry, connect: ConnectLink) -> AssetOutcome:
        data = entry.asset if isinstance(entry.asset, dict) else {}
        reference = data.get("partner_reference")

        def outcome(
            status: ProvisionalAssetStatus,
            detail: StatusDetail,
            meter_id: str | None = None,
            kept: dict[str, Any] | None = None,
        ) -> AssetOutcome:
            return AssetOutcome(
                job_id=job.job_id,
                index=entry.index,
                json_index=entry.json_index,
                csv_row=entry.csv_row,
                partner_reference=reference if isinstance(reference, str) else "",
                status=status,
                status_detail=detail,
                meter_id=meter_id,
                created_at=datetime.now(UTC),
                data=data if kept is None else kept,
            )

        if entry.size > MAX_ASSET_BYTES:
            return outcome(
                ProvisionalAssetStatus.FAILED,
                StatusDetail(
                    name=StatusDetailName.VALIDATION_ERROR,
                    description=f"the asset is {entry.size} bytes; an asset may be at most {MAX_ASSET_BYTES} bytes",
                    failed_fields={"asset": f"must be at most {MAX_ASSET_BYTES} bytes of JSON"},
                ),
                kept={"partner_reference": reference} if isinstance(reference, str) else {},
            )
        if entry.multiple_reference:
            return outcome(
                ProvisionalAssetStatus.MULTIPLE_PARTNER_REFERENCE,
                StatusDetail(
                    description=f"partner_reference {reference!r} appears more than once in this job; "
                    "none of those assets was applied (send each reference once)"
                ),
            )
        try:
            asset = CreateMeter.model_validate(data)
            created = create_meter(
                self.meters,
                job.partner_id,
                asset,
                update_existing=job.update_existing,
                connect=connect,
                job_id=job.job_id,
                meter_id=meter_id_for(job.job_id, entry.index),
            )
        except ValidationError as error:
            return outcome(ProvisionalAssetStatus.FAILED, _validation_failure(field_errors(error.errors())))
        except AssetRejected as rejected:
            return outcome(ProvisionalAssetStatus.FAILED, _validation_failure(rejected.errors))
        meter_id = str(created.meter_id) if created.meter_id else None
        return outcome(created.status, created.status_detail, meter_id)


def _validation_failure(errors: list[FieldError]) -> StatusDetail:
    return StatusDetail(
        name=StatusDetailName.VALIDATION_ERROR,
        description=f"{len(errors)} field(s) failed validation",
        failed_fields={error.field or "asset": error.description for error in errors},
    )
