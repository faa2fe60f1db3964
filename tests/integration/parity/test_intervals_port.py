"""IntervalStore, UploadRepository and WorkerSlots: the in-memory fakes and the DynamoDB adapters keep one contract."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from meterhub.intervals.adapters.dynamodb import DynamoIntervalStore
from meterhub.intervals.adapters.uploads import DynamoUploadRepository
from meterhub.intervals.adapters.worker_slots import DynamoWorkerSlots
from meterhub.intervals.ports import IntervalStore, UploadRepository, WorkerSlots
from meterhub.intervals.records import PartsDone, StepProgress, UploadJob, UploadStatus
from meterhub.intervals.rules.slots import DaySlots
from meterhub.platform.errors import AlreadyExists
from meterhub_dev.local import moto_fidelity

from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository, InMemoryWorkerSlots

DAY = date(2025, 1, 10)
T0 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(implementation: str, env: dict[str, str]) -> IntervalStore:
    if implementation == "fake":
        return InMemoryIntervalStore()
    return DynamoIntervalStore(env["INTERVALS_TABLE_NAME"])


@pytest.fixture
def uploads(implementation: str, env: dict[str, str]) -> UploadRepository:
    if implementation == "fake":
        return InMemoryUploadRepository()
    return DynamoUploadRepository(env["JOBS_TABLE_NAME"])


@pytest.fixture
def worker_slots(implementation: str, env: dict[str, str]) -> WorkerSlots:
    if implementation == "fake":
        return InMemoryWorkerSlots()
    return DynamoWorkerSlots(env["JOBS_TABLE_NAME"])


def _day(values: dict[int, tuple[float, bool]]) -> DaySlots:
    day = DaySlots.empty()
    for slot, (net, final) in values.items():
        day.put(slot, net, net, 0.0, final)
    return day


def _length_day(length: int, values: dict[int, tuple[float, bool]]) -> DaySlots:
    day = DaySlots.empty(length)
    for slot, (net, final) in values.items():
        day.put(slot, net, None, None, final)
    return day


# ----- interval store ------------------------------------------------------------------------------------------
def test_merge_keeps_final_values_over_estimates_and_adds_new_slots(
    store: IntervalStore, partner_ids: tuple[str, str]
) -> None:
    store.merge(partner_ids[0], "m-1", DAY, _day({0: (1.5, True), 1: (2.0, False)}))
    store.merge(partner_ids[0], "m-1", DAY, _day({0: (9.0, False), 1: (3.0, True), 95: (4.25, False)}))
    assert list(store.days(partner_ids[0], "m-1", DAY, DAY)) == [
        (DAY, _day({0: (1.5, True), 1: (3.0, True), 95: (4.25, False)}))
    ]


def test_days_reads_an_inclusive_range_in_order(store: IntervalStore, partner_ids: tuple[str, str]) -> None:
    days = [DAY + timedelta(days=n) for n in (3, 0, 1, 5)]
    for n, day in enumerate(days):
        store.merge(partner_ids[0], "m-1", day, _day({n: (float(n), True)}))
    read = list(store.days(partner_ids[0], "m-1", DAY + timedelta(days=1), DAY + timedelta(days=5)))
    assert [day for day, _ in read] == [DAY + timedelta(days=n) for n in (1, 3, 5)]
    assert list(store.days(partner_ids[0], "m-1", DAY + timedelta(days=6), DAY + timedelta(days=9))) == []
    assert list(store.days(partner_ids[0], "m-2", DAY, DAY + timedelta(days=9))) == []


def test_length_days_are_their_own_items_in_day_then_length_order(
    store: IntervalStore, partner_ids: tuple[str, str]
) -> None:
    pid = partner_ids[0]
    store.merge(pid, "m-1", DAY, _day({0: (1.0, True)}))
    store.merge_length(pid, "m-1", DAY + timedelta(days=1), _length_day(3600, {0: (5.0, True)}))
    store.merge_length(pid, "m-1", DAY, _length_day(3600, {1: (2.0, False)}))
    store.merge_length(pid, "m-1", DAY, _length_day(1800, {2: (3.0, False)}))
    store.merge_length(pid, "m-1", DAY, _length_day(3600, {1: (2.5, False), 23: (7.0, True)}))
    read = list(store.length_days(pid, "m-1", DAY, DAY + timedelta(days=1)))
    assert [(day, stored.length) for day, stored in read] == [
        (DAY, 1800),
        (DAY, 3600),
        (DAY + timedelta(days=1), 3600),
    ]
    assert read[1][1] == _length_day(3600, {1: (2.5, False), 23: (7.0, True)})
    assert [day for day, _ in store.days(pid, "m-1", DAY, DAY + timedelta(days=1))] == [DAY]  # no length item
    assert list(store.length_days(pid, "m-1", DAY + timedelta(days=1), DAY + timedelta(days=1))) == [read[2]]


def test_a_partner_reads_none_of_another_partners_days(store: IntervalStore, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    store.merge(mine, "m-1", DAY, _day({0: (1.0, True)}))
    store.merge_length(mine, "m-1", DAY, _length_day(3600, {0: (1.0, True)}))
    assert list(store.days(theirs, "m-1", DAY, DAY)) == []
    assert list(store.length_days(theirs, "m-1", DAY, DAY)) == []
    store.merge(theirs, "m-1", DAY, _day({1: (2.0, False)}))
    assert list(store.days(mine, "m-1", DAY, DAY)) == [(DAY, _day({0: (1.0, True)}))]


def test_a_day_read_back_is_a_copy(store: IntervalStore, partner_ids: tuple[str, str]) -> None:
    incoming = _day({0: (1.0, False)})
    store.merge(partner_ids[0], "m-1", DAY, incoming)
    incoming.put(1, 9.0, None, None, True)
    ((_, read),) = store.days(partner_ids[0], "m-1", DAY, DAY)
    read.put(2, 9.0, None, None, True)
    length = _length_day(3600, {0: (1.0, False)})
    store.merge_length(partner_ids[0], "m-1", DAY, length)
    length.put(1, 9.0, None, None, True)
    ((_, read_length),) = store.length_days(partner_ids[0], "m-1", DAY, DAY)
    read_length.put(2, 9.0, None, None, True)
    assert list(store.days(partner_ids[0], "m-1", DAY, DAY)) == [(DAY, _day({0: (1.0, False)}))]
    assert list(store.length_days(partner_ids[0], "m-1", DAY, DAY)) == [(DAY, _length_day(3600, {0: (1.0, False)}))]


# ----- upload repository ---------------------------------------------------------------------------------------
def _upload(partner_id: str, minutes: int = 0) -> UploadJob:
    at = T0 + timedelta(minutes=minutes)
    job_id = str(uuid.uuid4())
    return UploadJob(
        job_id=job_id,
        partner_id=partner_id,
        uploaded_file_path=f"/interval-data/{job_id}.csv",
        current_file_path=f"/interval-data/processing/{job_id}.csv",
        object_key=f"partners/{partner_id}/interval-data/{job_id}.csv",
        object_version="v1",
        uploaded_at=at,
        updated_at=at,
    )


def test_an_upload_job_is_created_once_and_read_back(uploads: UploadRepository, partner_ids: tuple[str, str]) -> None:
    job = _upload(partner_ids[0])
    uploads.create(job)
    assert uploads.get(job.partner_id, job.job_id) == job
    with pytest.raises(AlreadyExists):
        uploads.create(job.model_copy(update={"rows_total": 7}))
    assert uploads.get(job.partner_id, job.job_id) == job
    assert uploads.get(job.partner_id, str(uuid.uuid4())) is None


def test_save_overwrites_the_job(uploads: UploadRepository, partner_ids: tuple[str, str]) -> None:
    job = _upload(partner_ids[0])
    uploads.create(job)
    done = job.model_copy(
        update={"status": UploadStatus.COMPLETED, "rows_total": 3, "errors": [{"row": 2, "message": "bad"}]}
    )
    uploads.save(done)
    assert uploads.get(job.partner_id, job.job_id) == done


def test_the_first_claim_of_an_object_version_wins(uploads: UploadRepository, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    key = f"partners/{mine}/interval-data/a.csv"
    assert uploads.claim_object(mine, key, "v1", "job-1") == "job-1"
    assert uploads.claim_object(mine, key, "v1", "job-2") == "job-1"
    assert uploads.claim_object(mine, key, "v2", "job-3") == "job-3"
    assert uploads.claim_object(theirs, key, "v1", "job-4") == "job-4"  # claims are per partner


def test_parts_of_a_step_count_once_each_per_job_step_and_partner(
    uploads: UploadRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    assert uploads.step_progress(mine, "job-1", "check") == StepProgress(0, {})
    assert uploads.mark_part_done(mine, "job-1", "check", 0) == PartsDone(1, first=True)
    assert uploads.mark_part_done(mine, "job-1", "check", 0) == PartsDone(1, first=False)  # delivered twice
    assert uploads.mark_part_done(mine, "job-1", "check", 7) == PartsDone(2, first=True)
    assert uploads.mark_part_done(mine, "job-1", "merge", 7) == PartsDone(1, first=True)  # another step
    assert uploads.mark_part_done(mine, "job-2", "check", 0) == PartsDone(1, first=True)  # another job
    assert uploads.mark_part_done(theirs, "job-1", "check", 0) == PartsDone(1, first=True)  # another partner
    assert uploads.step_progress(mine, "job-1", "check").done == 2
    assert uploads.step_progress(theirs, "job-1", "merge") == StepProgress(0, {})
    assert uploads.get(mine, "job-1") is None  # not a job record: the jobs list and stream never see it


def test_a_parts_counts_are_added_once_with_the_part_however_often_it_is_recorded(
    uploads: UploadRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    assert uploads.mark_part_done(mine, "job-1", "check", 0, {"rows_total": 10, "rows_invalid": 1}).first
    assert not uploads.mark_part_done(mine, "job-1", "check", 0, {"rows_total": 10, "rows_invalid": 1}).first
    assert uploads.mark_part_done(mine, "job-1", "check", 1, {"rows_total": 7, "rows_invalid": 0}).first
    assert uploads.mark_part_done(mine, "job-1", "check", 2).first  # a part without counts
    assert uploads.step_progress(mine, "job-1", "check") == StepProgress(3, {"rows_total": 17, "rows_invalid": 1})
    assert uploads.step_progress(theirs, "job-1", "check") == StepProgress(0, {})


def test_parts_finishing_at_the_same_moment_are_all_counted_and_one_sees_the_last_count(
    uploads: UploadRepository, partner_ids: tuple[str, str]
) -> None:
    parts = 8
    start = threading.Barrier(parts)
    answers: list[PartsDone] = []

    def finish(part: int) -> None:
        start.wait()
        answers.append(uploads.mark_part_done(partner_ids[0], "job-1", "check", part))

    threads = [threading.Thread(target=finish, args=(part,)) for part in range(parts)]
    # DynamoDB applies each request atomically; in-process moto does not across threads (the same gap the local
    # runner closes with moto_fidelity), so without this the test measures moto's races, not the adapter.
    with moto_fidelity.installed():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(answer.done for answer in answers) == list(range(1, parts + 1))
    assert all(answer.first for answer in answers)
    assert uploads.mark_part_done(partner_ids[0], "job-1", "check", 3) == PartsDone(parts, first=False)


def test_upload_jobs_list_newest_first_and_resume_before_a_sort_key(
    uploads: UploadRepository, partner_ids: tuple[str, str]
) -> None:
    jobs = [_upload(partner_ids[0], minutes) for minutes in (5, 0, 15, 10)]
    for job in jobs:
        uploads.create(job)
    newest_first = sorted(jobs, key=lambda job: job.uploaded_at, reverse=True)
    listed = list(uploads.jobs(partner_ids[0]))
    assert [job for _, job in listed] == newest_first
    assert [job for _, job in uploads.jobs(partner_ids[0], before=listed[1][0])] == newest_first[2:]
    uploads.save(newest_first[0].model_copy(update={"status": UploadStatus.PROCESSING}))
    assert next(job.status for _, job in uploads.jobs(partner_ids[0])) is UploadStatus.PROCESSING


def test_a_partner_reaches_none_of_another_partners_uploads(
    uploads: UploadRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    job = _upload(mine)
    uploads.create(job)
    assert uploads.get(theirs, job.job_id) is None
    assert list(uploads.jobs(theirs)) == []
    uploads.create(job.model_copy(update={"partner_id": theirs}))  # the same job id is another partner's own
    assert uploads.get(mine, job.job_id) == job


def test_an_upload_read_back_is_a_copy(uploads: UploadRepository, partner_ids: tuple[str, str]) -> None:
    job = _upload(partner_ids[0])
    uploads.create(job)
    expected = job.model_copy(deep=True)
    job.unknown_columns.append("changed after create")
    read = uploads.get(job.partner_id, job.job_id)
    assert read is not None
    read.errors.append({"changed": "in memory"})
    assert uploads.get(job.partner_id, job.job_id) == expected


def test_a_partners_worker_slots_are_taken_up_to_the_limit_and_each_partner_has_its_own(
    worker_slots: WorkerSlots, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    lease = T0 + timedelta(minutes=15)
    taken = [worker_slots.acquire(mine, 2, f"worker-{n}", T0, lease) for n in range(3)]
    assert sorted(slot for slot in taken[:2] if slot is not None) == [0, 1]
    assert taken[2] is None  # both held
    assert worker_slots.acquire(theirs, 2, "worker-9", T0, lease) is not None  # another partner's slots

    first = taken[0]
    assert first is not None
    worker_slots.release(mine, first, "not-the-holder")  # a slot is freed only by its holder
    assert worker_slots.acquire(mine, 2, "worker-3", T0, lease) is None
    worker_slots.release(mine, first, "worker-0")
    assert worker_slots.acquire(mine, 2, "worker-4", T0, lease) == first


def test_a_slot_whose_lease_ended_is_taken_over_and_its_old_holder_cannot_free_it(
    worker_slots: WorkerSlots, partner_ids: tuple[str, str]
) -> None:
    mine = partner_ids[0]
    assert worker_slots.acquire(mine, 1, "crashed", T0, T0 + timedelta(minutes=1)) == 0
    assert worker_slots.acquire(mine, 1, "next", T0 + timedelta(seconds=59), T0 + timedelta(minutes=5)) is None
    assert worker_slots.acquire(mine, 1, "next", T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)) == 0
    worker_slots.release(mine, 0, "crashed")  # too late: the slot is the next holder's
    assert worker_slots.acquire(mine, 1, "third", T0 + timedelta(minutes=3), T0 + timedelta(minutes=5)) is None


def test_a_files_slots_are_apart_from_its_partners_and_from_the_partners_other_files(
    worker_slots: WorkerSlots, partner_ids: tuple[str, str]
) -> None:
    mine = partner_ids[0]
    backfill, daily = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    lease = T0 + timedelta(minutes=15)
    assert worker_slots.acquire(mine, 1, "backfill-1", T0, lease, backfill) == 0
    assert worker_slots.acquire(mine, 1, "backfill-2", T0, lease, backfill) is None  # the file's one slot is held
    assert worker_slots.acquire(mine, 1, "daily-1", T0, lease, daily) == 0  # another file of the partner: its own
    assert worker_slots.acquire(mine, 1, "small-file", T0, lease) == 0  # the files' slots are not the partner's

    worker_slots.release(mine, 0, "backfill-1")  # the partner's slot 0 (not this holder's): nothing freed
    assert worker_slots.acquire(mine, 1, "other", T0, lease) is None
    worker_slots.release(mine, 0, "backfill-1", daily)  # another file's slot: nothing freed
    assert worker_slots.acquire(mine, 1, "daily-2", T0, lease, daily) is None
    worker_slots.release(mine, 0, "backfill-1", backfill)
    assert worker_slots.acquire(mine, 1, "backfill-2", T0, lease, backfill) == 0
    assert worker_slots.acquire(mine, 1, "backfill-3", T0 + timedelta(minutes=16), lease, backfill) == 0  # ended


def test_concurrent_acquires_never_hand_one_slot_to_two_holders(
    worker_slots: WorkerSlots, partner_ids: tuple[str, str]
) -> None:
    callers = 8
    start = threading.Barrier(callers)
    answers: list[int | None] = []

    def take(n: int) -> None:
        start.wait()
        answers.append(worker_slots.acquire(partner_ids[0], 3, f"worker-{n}", T0, T0 + timedelta(minutes=15)))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(callers)]
    with moto_fidelity.installed():  # DynamoDB applies each request atomically (see the parts test above)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(slot for slot in answers if slot is not None) == [0, 1, 2]
    assert answers.count(None) == callers - 3
