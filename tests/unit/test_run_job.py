"""meterhub.meter_jobs.use_cases.run_job on the InMemory fakes: an earlier attempt's failure is left to the queue,
the last attempt ends the job FAILED, and a run short of time queues its continuation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ClientError
from meterhub.meter_jobs.records import JobStatus, MeterJob
from meterhub.meter_jobs.use_cases import worker as worker_module
from meterhub.meter_jobs.use_cases.jobs import submit_job
from meterhub.meter_jobs.use_cases.payload import assets_key
from meterhub.meter_jobs.use_cases.run_job import run_job
from meterhub.meter_jobs.use_cases.worker import Worker
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.platform.errors import StorageUnavailable

from tests.emf import EmfCapture, point, totals
from tests.fakes.meter_jobs import InMemoryJobRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue

MakeAsset = Callable[..., dict[str, Any]]
ACME = "partner-acme"
MAX_ATTEMPTS = 5
NEVER = lambda: False  # noqa: E731 - time is never short


def connect(partner_id: str) -> Callable[[CreateMeter], str]:
    return lambda asset: f"/connect?account={partner_id}&refId={asset.partner_reference}"


@dataclass
class Jobs:
    """The fakes behind the worker, and the queue `run_job` sends continuations to (submissions go elsewhere)."""

    jobs: InMemoryJobRepository = field(default_factory=InMemoryJobRepository)
    meters: InMemoryMeterRepository = field(default_factory=InMemoryMeterRepository)
    objects: InMemoryObjectStore = field(default_factory=InMemoryObjectStore)
    continuations: InMemoryWorkQueue = field(default_factory=InMemoryWorkQueue)

    def submit(self, assets: list[dict[str, Any]]) -> str:
        body = json.dumps({"assets": assets}).encode()
        return submit_job(
            self.jobs,
            self.objects,
            InMemoryWorkQueue(),
            ACME,
            body,
            "application/json",
            update_existing=False,
            file_name=None,
        )

    def run(self, job_id: str, attempt: int, time_is_short: Callable[[], bool] = NEVER) -> None:
        worker = Worker(jobs=self.jobs, meters=self.meters, objects=self.objects, connect=connect)
        run_job(
            worker,
            self.continuations,
            ACME,
            job_id,
            attempt=attempt,
            max_attempts=MAX_ATTEMPTS,
            time_is_short=time_is_short,
        )

    def job(self, job_id: str) -> MeterJob:
        job = self.jobs.get(ACME, job_id)
        assert job is not None
        return job


@pytest.fixture
def jobs() -> Jobs:
    return Jobs()


def broken_job(jobs: Jobs, make_asset: MakeAsset) -> str:
    """A job whose stored payload is gone: every attempt to process it raises."""
    job_id = jobs.submit([make_asset("gone-1")])
    del jobs.objects.objects[assets_key(ACME, job_id)]
    return job_id


@pytest.mark.parametrize("attempt", [1, MAX_ATTEMPTS - 1])
def test_a_failure_before_the_last_attempt_is_raised_for_the_queue_to_retry(
    jobs: Jobs, make_asset: MakeAsset, attempt: int
) -> None:
    job_id = broken_job(jobs, make_asset)
    with pytest.raises(ClientError, match="NoSuchKey"):  # what S3 (and so the fake) answers for the lost payload
        jobs.run(job_id, attempt)
    job = jobs.job(job_id)
    assert (job.status, job.failure_reason) == (JobStatus.PROCESSING, None)
    assert jobs.continuations.messages == []


@pytest.mark.parametrize("attempt", [MAX_ATTEMPTS, MAX_ATTEMPTS + 1])
def test_a_failure_on_the_last_attempt_ends_the_job_failed_with_the_reason(
    jobs: Jobs, make_asset: MakeAsset, attempt: int, emf: EmfCapture
) -> None:
    job_id = broken_job(jobs, make_asset)
    jobs.run(job_id, attempt)  # does not raise: the message is acknowledged
    job = jobs.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason == f"processing failed {attempt} times; see the logs"
    assert jobs.continuations.messages == []
    # And the job counts once among the jobs that ended: a late redelivery finds it ended and counts nothing
    jobs.run(job_id, attempt)
    assert totals(emf()) == {point("MeterJobs", Status="FAILED"): 1}


class FirstReadFails(InMemoryJobRepository):
    """A job store whose first read fails (say, throttled past its retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, partner_id: str, job_id: str) -> MeterJob | None:
        self.reads += 1
        if self.reads == 1:
            raise StorageUnavailable("throttled")
        return super().get(partner_id, job_id)


def test_a_last_attempt_failing_before_the_job_is_read_still_ends_it_failed(make_asset: MakeAsset) -> None:
    jobs = Jobs(jobs=FirstReadFails())
    job_id = jobs.submit([make_asset("flaky-1")])
    jobs.run(job_id, attempt=MAX_ATTEMPTS)
    assert jobs.job(job_id).status is JobStatus.FAILED


def test_a_last_attempt_failing_for_an_unknown_job_is_acknowledged() -> None:
    store = FirstReadFails()
    jobs = Jobs(jobs=store)
    jobs.run("1b0a8f0e-8e0e-4c0e-9a55-3f0e2d1c0b0a", attempt=MAX_ATTEMPTS)  # nothing to end, nothing raised
    assert store.reads == 2
    assert jobs.continuations.messages == []


def test_time_running_short_queues_the_jobs_message_and_the_continuation_finishes_it(
    jobs: Jobs, make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 4-asset job in chunks of 2, and a first run whose time is short after its first chunk
    monkeypatch.setattr(worker_module, "CHUNK_SIZE", 2)
    job_id = jobs.submit([make_asset(f"cont-{n}") for n in range(4)])
    readings = count()
    jobs.run(job_id, attempt=1, time_is_short=lambda: next(readings) >= 1)
    # Then the job stopped at its cursor and the same message went back on the queue
    assert (jobs.job(job_id).status, jobs.job(job_id).next_index) == (JobStatus.PROCESSING, 2)
    assert jobs.continuations.messages == [{"partner_id": ACME, "job_id": job_id}]
    assert jobs.continuations.delays == [0]
    # When the continuation runs with time to spare, the job completes and nothing more is queued
    jobs.run(job_id, attempt=1)
    assert (jobs.job(job_id).status, jobs.job(job_id).processed) == (JobStatus.COMPLETED, 4)
    assert len(jobs.continuations.messages) == 1


def test_a_run_that_finishes_queues_nothing(jobs: Jobs, make_asset: MakeAsset) -> None:
    job_id = jobs.submit([make_asset("done-1")])
    jobs.run(job_id, attempt=MAX_ATTEMPTS)
    assert jobs.job(job_id).status is JobStatus.COMPLETED
    assert jobs.continuations.messages == []
