"""JobRepository: InMemoryJobRepository and DynamoJobRepository keep one contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meter_jobs.adapters.dynamodb import DynamoJobRepository
from meterhub.meter_jobs.ports import JobRepository
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob, PayloadFormat
from meterhub.meters.api_models.responses import StatusDetail
from meterhub.platform.errors import AlreadyExists, Conflict

from tests.fakes.meter_jobs import InMemoryJobRepository

T0 = datetime(2025, 2, 1, tzinfo=UTC)


@pytest.fixture
def repo(implementation: str, env: dict[str, str]) -> JobRepository:
    if implementation == "fake":
        return InMemoryJobRepository()
    return DynamoJobRepository(env["JOBS_TABLE_NAME"])


def _job(partner_id: str, minutes: int = 0, assets: int = 4) -> MeterJob:
    at = T0 + timedelta(minutes=minutes)
    return MeterJob(
        job_id=str(uuid.uuid4()),
        partner_id=partner_id,
        file_name="meters.json",
        payload_format=PayloadFormat.JSON,
        assets_count=assets,
        transmission_regions=["ISONE"],
        created_at=at,
        updated_at=at,
    )


def _outcome(
    job: MeterJob, index: int, status: ProvisionalAssetStatus = ProvisionalAssetStatus.COMPLETED
) -> AssetOutcome:
    detail = StatusDetail(name=StatusDetailName.METER_CREATED if status is ProvisionalAssetStatus.COMPLETED else None)
    return AssetOutcome(
        job_id=job.job_id,
        index=index,
        json_index=index,
        partner_reference=f"ref-{index}",
        status=status,
        status_detail=detail,
        meter_id=str(uuid.uuid4()) if status is ProvisionalAssetStatus.COMPLETED else None,
        created_at=job.created_at,
        data={"partner_reference": f"ref-{index}"},
    )


def test_a_created_job_reads_back_and_a_missing_one_is_none(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    assert repo.get(job.partner_id, job.job_id) == job
    assert repo.get(job.partner_id, str(uuid.uuid4())) is None


def test_a_taken_job_id_is_already_exists(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    with pytest.raises(AlreadyExists):
        repo.create(job.model_copy(update={"file_name": "other.json"}))
    assert repo.get(job.partner_id, job.job_id) == job


def test_record_chunk_stores_outcomes_counts_them_and_moves_the_cursor(
    repo: JobRepository, partner_ids: tuple[str, str]
) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    first = [_outcome(job, 0), _outcome(job, 1, ProvisionalAssetStatus.FAILED)]
    repo.record_chunk(job, 0, first)
    second = [_outcome(job, 2), _outcome(job, 3, ProvisionalAssetStatus.DUPLICATE)]
    repo.record_chunk(job, 2, second)
    stored = repo.get(job.partner_id, job.job_id)
    assert stored is not None
    assert (
        stored.next_index,
        stored.assets_created_count,
        stored.assets_failed_count,
        stored.assets_updated_count,
    ) == (
        4,
        2,
        2,
        0,
    )
    assert stored.status is JobStatus.PROCESSING
    assert list(repo.job_assets(job.partner_id, job.job_id)) == first + second
    assert list(repo.job_assets(job.partner_id, job.job_id, after_index=1)) == second


def test_a_chunk_behind_the_cursor_is_a_conflict_and_counts_nothing(
    repo: JobRepository, partner_ids: tuple[str, str]
) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    repo.record_chunk(job, 0, [_outcome(job, 0)])
    with pytest.raises(Conflict):
        repo.record_chunk(job, 0, [_outcome(job, 0)])  # a duplicate delivery redoing the chunk
    stored = repo.get(job.partner_id, job.job_id)
    assert stored is not None and (stored.next_index, stored.assets_created_count) == (1, 1)


def test_a_finished_or_missing_job_takes_no_chunk(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    assert repo.finish(job, JobStatus.FAILED, "gave up")
    with pytest.raises(Conflict):
        repo.record_chunk(job, 0, [_outcome(job, 0)])
    missing = _job(partner_ids[0])
    with pytest.raises(Conflict):
        repo.record_chunk(missing, 0, [_outcome(missing, 0)])
    assert repo.get(missing.partner_id, missing.job_id) is None


def test_finish_moves_a_processing_job_once(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    assert repo.finish(job, JobStatus.FAILED, "the stored payload has fewer assets than the job") is True
    assert repo.finish(job, JobStatus.COMPLETED) is False
    stored = repo.get(job.partner_id, job.job_id)
    assert stored is not None
    assert (stored.status, stored.failure_reason) == (
        JobStatus.FAILED,
        "the stored payload has fewer assets than the job",
    )
    assert stored.updated_at > job.updated_at


def test_finishing_a_missing_job_is_false(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    assert repo.finish(job, JobStatus.COMPLETED) is False
    assert repo.get(job.partner_id, job.job_id) is None


def test_finish_without_a_reason_keeps_the_stored_one(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0]).model_copy(update={"failure_reason": "noted earlier"})
    repo.create(job)
    assert repo.finish(job, JobStatus.COMPLETED)
    stored = repo.get(job.partner_id, job.job_id)
    assert stored is not None and (stored.status, stored.failure_reason) == (JobStatus.COMPLETED, "noted earlier")


def test_jobs_and_assets_list_newest_first_and_resume_before_a_sort_key(
    repo: JobRepository, partner_ids: tuple[str, str]
) -> None:
    jobs = [_job(partner_ids[0], minutes) for minutes in (20, 0, 10)]
    for job in jobs:
        repo.create(job)
    newest_first = sorted(jobs, key=lambda job: job.created_at, reverse=True)
    listed = list(repo.jobs(partner_ids[0]))
    assert [job for _, job in listed] == newest_first
    assert [job for _, job in repo.jobs(partner_ids[0], before=listed[0][0])] == newest_first[1:]
    assert list(repo.jobs(partner_ids[0], before=listed[-1][0])) == []

    for job in jobs:
        repo.record_chunk(job, 0, [_outcome(job, 0), _outcome(job, 1)])
    assets = list(repo.assets(partner_ids[0]))
    expected = [(job.job_id, index) for job in newest_first for index in (1, 0)]
    assert [(asset.job_id, asset.index) for _, asset in assets] == expected
    resumed = list(repo.assets(partner_ids[0], before=assets[2][0]))
    assert [(asset.job_id, asset.index) for _, asset in resumed] == expected[3:]


def test_a_partner_reaches_none_of_another_partners_jobs(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    job = _job(mine)
    repo.create(job)
    repo.record_chunk(job, 0, [_outcome(job, 0)])
    assert repo.get(theirs, job.job_id) is None
    assert list(repo.jobs(theirs)) == []
    assert list(repo.assets(theirs)) == []
    assert list(repo.job_assets(theirs, job.job_id)) == []
    forged = job.model_copy(update={"partner_id": theirs})
    assert repo.finish(forged, JobStatus.COMPLETED) is False
    with pytest.raises(Conflict):
        repo.record_chunk(forged, 1, [_outcome(forged, 1)])
    stored = repo.get(mine, job.job_id)
    assert stored is not None and (stored.status, stored.next_index) == (JobStatus.PROCESSING, 1)


def test_a_record_read_back_is_a_copy(repo: JobRepository, partner_ids: tuple[str, str]) -> None:
    job = _job(partner_ids[0])
    repo.create(job)
    expected = job.model_copy(deep=True)
    job.transmission_regions.append("changed after create")
    read = repo.get(job.partner_id, job.job_id)
    assert read is not None
    read.transmission_regions.append("changed in memory")
    assert repo.get(job.partner_id, job.job_id) == expected
