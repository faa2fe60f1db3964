"""meterhub.intervals.use_cases.partner_workers on the InMemory fakes: a partner's bound of workers, a fanned-out
file's bound within it, and the small-file path of the ingest function held to the partner's bound
(notifications.ingest_notification with `within`, as functions/interval_ingest/app.py calls it).

Work that "keeps running" is nested: a task's work starts the next task, so while the innermost runs every outer
one still holds its slots, without threads or sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.use_cases.fanout import with_fan_out
from meterhub.intervals.use_cases.notifications import ingest_notification
from meterhub.intervals.use_cases.partner_workers import LEASE_MARGIN_SECONDS, PartnerWorkers
from meterhub.intervals.use_cases.pipeline import Ingestion
from pydantic import ValidationError

from tests.conftest import function_environment, load_function_module
from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository, InMemoryWorkerSlots
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue
from tests.unit.test_ingest_notifications import body, drop_key, s3_record

PARTNER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
"""The partner of tests.unit.test_ingest_notifications' drops."""
OTHER = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
BACKFILL, DAILY = "job-backfill", "job-daily"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WAIT = 60
T = TypeVar("T")


def workers(slots: InMemoryWorkerSlots, queue: InMemoryWorkQueue, *, partner: int = 8, file: int = 4) -> PartnerWorkers:
    return PartnerWorkers(slots, queue, workers=partner, wait_seconds=WAIT, file_workers=file, now=lambda: T0)


def task(file_id: str, part: int) -> dict[str, Any]:
    return {"partner_id": PARTNER, "job_id": file_id, "step": "check", "part": part}


def run(pool: PartnerWorkers, file_id: str, part: int, work: Callable[[], T]) -> T | None:
    return pool.run(
        task(file_id, part), work, partner_id=PARTNER, file_id=file_id, holder=f"{file_id}/{part}", seconds_left=900
    )


def held(slots: InMemoryWorkerSlots, file_id: str | None) -> int:
    return sum(1 for partner, scope, _ in slots.held if partner == PARTNER and scope == file_id)


def assert_delays_follow_the_policy(queue: InMemoryWorkQueue) -> None:
    assert queue.delays and all(WAIT <= delay <= 2 * WAIT for delay in queue.delays)


# ----- a fanned-out file's tasks ------------------------------------------------------------------------------


def test_a_backfill_holding_its_files_slots_waits_while_the_partners_other_file_still_runs() -> None:
    slots, queue = InMemoryWorkerSlots(), InMemoryWorkQueue()
    pool = workers(slots, queue, partner=8, file=4)
    seen: dict[str, Any] = {}

    def innermost() -> str:
        # four back-fill tasks running: a fifth waits, the partner's daily file still runs
        seen["fifth"] = run(pool, BACKFILL, 5, lambda: "ran")
        seen["daily"] = run(pool, DAILY, 1, lambda: (held(slots, BACKFILL), held(slots, DAILY), held(slots, None)))
        return "fourth"

    def nested(part: int) -> str:
        return innermost() if part == 4 else str(run(pool, BACKFILL, part + 1, lambda: nested(part + 1)))

    assert run(pool, BACKFILL, 1, lambda: nested(1)) == "fourth"
    assert seen["fifth"] is None  # its file's 4 slots were held: it waited
    assert seen["daily"] == (4, 1, 5)  # ran beside them: 4 + 1 of the partner's 8
    assert queue.messages == [task(BACKFILL, 5)]  # the waiting task queued again as it came
    assert_delays_follow_the_policy(queue)
    assert slots.held == {}  # every slot freed as its task ended


def test_a_task_that_gets_its_files_slot_but_no_partner_slot_frees_the_files_slot_and_waits() -> None:
    slots, queue = InMemoryWorkerSlots(), InMemoryWorkQueue()
    pool = workers(slots, queue, partner=2, file=2)
    lease = T0 + timedelta(minutes=15)
    for n in range(2):  # the partner's other workers (another file's tasks, small files) hold its 2 slots
        assert slots.acquire(PARTNER, 2, f"elsewhere-{n}", T0, lease) is not None

    assert run(pool, DAILY, 1, lambda: "ran") is None

    assert held(slots, DAILY) == 0  # its file's slot was freed, not kept while it waits
    assert held(slots, None) == 2
    assert queue.messages == [task(DAILY, 1)]
    assert_delays_follow_the_policy(queue)


class FailingPartnerSlots(InMemoryWorkerSlots):
    """The jobs table failing the partner slot's acquire (after the file's slot was taken)."""

    def acquire(
        self,
        partner_id: str,
        limit: int,
        holder: str,
        now: datetime,
        lease_until: datetime,
        file_id: str | None = None,
    ) -> int | None:
        if file_id is None:
            raise RuntimeError("DynamoDB failed")
        return super().acquire(partner_id, limit, holder, now, lease_until, file_id)


def test_a_partner_acquire_that_raises_frees_the_files_slot_and_queues_nothing() -> None:
    slots, queue = FailingPartnerSlots(), InMemoryWorkQueue()
    with pytest.raises(RuntimeError, match="DynamoDB failed"):
        run(workers(slots, queue), DAILY, 1, lambda: "ran")
    assert slots.held == {}
    assert queue.messages == []  # a failure is the queue's to retry (receive count up), not a wait


def test_a_task_that_fails_frees_both_its_slots() -> None:
    slots, queue = InMemoryWorkerSlots(), InMemoryWorkQueue()

    def fails() -> str:
        assert (held(slots, BACKFILL), held(slots, None)) == (1, 1)
        raise ValueError("the piece failed")

    with pytest.raises(ValueError, match="the piece failed"):
        run(workers(slots, queue), BACKFILL, 1, fails)
    assert slots.held == {}
    assert queue.messages == []


def test_the_slots_are_leased_for_the_invocations_remaining_time_and_a_margin() -> None:
    slots, queue = InMemoryWorkerSlots(), InMemoryWorkQueue()
    leases: list[datetime] = []

    def look() -> str:
        leases.extend(until for _, until in slots.held.values())
        return "ran"

    pool = workers(slots, queue)
    pool.run(task(DAILY, 1), look, partner_id=PARTNER, file_id=DAILY, holder="h", seconds_left=120.5)
    assert leases == [T0 + timedelta(seconds=120.5 + LEASE_MARGIN_SECONDS)] * 2


def test_a_task_of_one_file_needs_a_file_bound() -> None:
    pool = PartnerWorkers(InMemoryWorkerSlots(), InMemoryWorkQueue(), workers=8, wait_seconds=WAIT)
    with pytest.raises(ValueError, match="file_workers"):
        run(pool, DAILY, 1, lambda: "ran")


# ----- the pieces' function refuses a file bound above the partner's ---------------------------------------


def test_the_pieces_function_refuses_a_file_bound_above_its_partners_at_cold_start() -> None:
    settings = load_function_module("functions/interval_pieces/app.py").Settings
    environment = function_environment()  # the template's defaults: 4 of 8
    deployed = settings.from_environ(environment)
    assert (deployed.interval_file_workers, deployed.interval_partner_workers) == (4, 8)
    equal = settings.from_environ({**environment, "INTERVAL_PARTNER_WORKERS": "4", "INTERVAL_FILE_WORKERS": "4"})
    assert equal.interval_file_workers == 4
    refused = r"INTERVAL_FILE_WORKERS \(5\) must not exceed INTERVAL_PARTNER_WORKERS \(4\)"
    with pytest.raises(ValidationError, match=refused):
        settings.from_environ({**environment, "INTERVAL_PARTNER_WORKERS": "4", "INTERVAL_FILE_WORKERS": "5"})


# ----- a small file: one invocation within its partner's bound ------------------------------------------------


CLEAN = b"meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh\n"
"""A file of no rows: refused (no data), which is enough to see it ingested and filed."""


class SmallFile:
    """A drop of PARTNER's, its notification, and the ingest function's pieces on the fakes."""

    def __init__(self, name: str = "daily.csv") -> None:
        self.key = drop_key(name)
        self.body = body(s3_record(self.key))
        self.objects = InMemoryObjectStore()
        self.objects.put(self.key, CLEAN, "text/csv")
        self.uploads = InMemoryUploadRepository()
        self.slots = InMemoryWorkerSlots()
        self.files_queue = InMemoryWorkQueue()
        self.pool = PartnerWorkers(self.slots, self.files_queue, workers=2, wait_seconds=WAIT, now=lambda: T0)
        self.ingestion = Ingestion(self.uploads, InMemoryIntervalStore(), self.objects, InMemoryMeterRepository())

    def within(self, partner_id: str, work: Callable[[], UploadJob]) -> UploadJob | None:
        """What the ingest function's record handler passes."""
        return self.pool.run(
            json.loads(self.body), work, partner_id=partner_id, holder="request/message", seconds_left=900
        )

    def deliver(self, ingestion: Ingestion | None = None, attempt: int = 1) -> None:
        ingest_notification(ingestion or self.ingestion, self.body, attempt=attempt, max_attempts=3, within=self.within)

    def hold_partner_slots(self, partner_id: str = PARTNER) -> None:
        for n in range(2):  # e.g. two pieces of the partner's back-fill
            assert self.slots.acquire(partner_id, 2, f"piece-{n}", T0, T0 + timedelta(minutes=15)) is not None

    def job(self) -> UploadJob:
        [job] = [job for _, job in self.uploads.jobs(PARTNER)]
        return job


def test_a_small_file_of_a_partner_at_its_bound_is_queued_again_delayed_and_shows_queued() -> None:
    small = SmallFile()
    small.hold_partner_slots()

    small.deliver()

    assert small.files_queue.messages == [json.loads(small.body)]  # the notification itself, a fresh copy
    assert_delays_follow_the_policy(small.files_queue)
    assert small.key in small.objects.objects  # nothing ingested: the drop is where the partner put it
    job = small.job()  # claimed: the partner sees the file accepted and pending
    assert (job.status, job.rows_total, job.uploaded_file_path) == (UploadStatus.QUEUED, 0, "/interval-data/daily.csv")
    assert len(small.slots.held) == 2  # the others' slots untouched, none taken

    # When a slot is free and the copy is delivered, the same job is ingested
    small.slots.held.clear()
    small.files_queue.messages.clear()
    small.deliver()
    assert small.job().job_id == job.job_id
    assert small.job().status is UploadStatus.FAILED  # no data rows: refused, and filed
    assert small.key not in small.objects.objects
    assert small.files_queue.messages == []
    assert small.slots.held == {}


def test_a_small_file_runs_while_another_partner_is_at_its_bound_and_frees_its_slot() -> None:
    small = SmallFile()
    small.hold_partner_slots(OTHER)
    seen: list[int] = []
    original = small.ingestion.uploads.save

    def save(job: UploadJob) -> None:  # while the file is processed, it holds one of its partner's slots
        seen.append(sum(1 for partner, _, _ in small.slots.held if partner == PARTNER))
        original(job)

    small.uploads.save = save  # type: ignore[method-assign]
    small.deliver()
    assert small.job().status is UploadStatus.FAILED
    assert 1 in seen
    assert [key for key in small.slots.held if key[0] == PARTNER] == []
    assert small.files_queue.messages == []


class CrashingIngestion(Ingestion):
    """The pipeline crashing while it processes the file (after the slot was taken)."""

    def _run(self, *args: Any, **kwargs: Any) -> UploadJob:
        raise RuntimeError("the ingest function crashed on this file")


@pytest.mark.parametrize("attempt", [1, 3])
def test_a_small_file_whose_ingestion_raises_frees_its_slot(attempt: int) -> None:
    small = SmallFile()
    crashing = CrashingIngestion(small.uploads, InMemoryIntervalStore(), small.objects, InMemoryMeterRepository())
    if attempt < 3:
        with pytest.raises(RuntimeError):
            small.deliver(crashing, attempt)
        assert small.job().status is UploadStatus.PROCESSING  # the queue retries it
    else:
        small.deliver(crashing, attempt)  # the last attempt: FAILED with the reason, as before
        assert small.job().status is UploadStatus.FAILED
        assert small.job().failure_reason == "processing failed 3 times; upload the file again"
    assert small.slots.held == {}
    assert small.files_queue.messages == []


def test_a_large_file_starts_its_fan_out_without_a_slot_its_tasks_are_bounded_one_by_one() -> None:
    small = SmallFile("backfill.csv")
    small.objects.put(small.key, CLEAN + b"m,2025-06-01T00:00:00Z,2025-06-01T00:15:00Z,1\n" * 50, "text/csv")
    pieces = InMemoryWorkQueue()
    fan_out = with_fan_out(small.ingestion, pieces, fan_out_bytes=100, piece_bytes=1_000, buckets=2)
    small.hold_partner_slots()

    small.deliver(fan_out.ingestion)

    assert small.job().status is UploadStatus.PROCESSING
    assert [message["step"] for message in pieces.messages] == ["check"] * small.job().pieces_total
    assert small.files_queue.messages == []


def test_keys_that_are_not_drops_never_take_a_slot() -> None:
    small = SmallFile()
    small.hold_partner_slots()
    ours = drop_key("accepted/x.csv/x.csv")
    ingest_notification(small.ingestion, body(s3_record(ours)), attempt=1, max_attempts=3, within=small.within)
    assert small.files_queue.messages == []
    assert list(small.uploads.jobs(PARTNER)) == []
