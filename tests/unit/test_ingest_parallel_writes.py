"""Pass 2's bounded, parallel day merges (intervals.use_cases.bounded_merges) through the ingest pipeline on the
InMemory fakes: the same stored state and counters as serial writing, never more than the configured merges in
flight, a batch written before the next, and a merge that keeps failing fails the file without a COMPLETED job.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from meterhub.intervals.records import UploadStatus
from meterhub.intervals.rules.slots import DayKey, DaySlots
from meterhub.intervals.use_cases import pipeline
from meterhub.intervals.use_cases.bounded_merges import merge_batches
from meterhub.platform.errors import StorageUnavailable

from tests.fakes.intervals import InMemoryIntervalStore
from tests.unit.test_ingest_pipeline import DAY, METER, METER_2, METER_3, Harness, expected_days, load_file

pytestmark = pytest.mark.usefixtures("no_network")

MERGE_SECONDS = 0.002


class SlowIntervalStore(InMemoryIntervalStore):
    """Each merge takes a little while (a round trip); counts the merges in flight and the most at once."""

    def __init__(self, fail_on: tuple[str, date] | None = None) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.attempts = 0

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        with self.lock:
            self.active += 1
            self.attempts += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(MERGE_SECONDS)
            if (meter_id, day) == self.fail_on:
                raise StorageUnavailable("throttled beyond the store's retries")
            super().merge(partner_id, meter_id, day, incoming)
        finally:
            with self.lock:
                self.active -= 1


METERS = [METER, METER_2, METER_3]
DAYS = [DAY + timedelta(days=n) for n in range(6)]


@pytest.mark.parametrize("concurrency", [2, 8])
def test_parallel_writes_store_exactly_what_serial_writes_store(
    concurrency: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given batches cut at 4 meter-days, so a file of 18 meter-days is written in 5 batches
    monkeypatch.setattr(pipeline, "STORE_DAY_ITEMS", 4)
    body = load_file(METERS, DAYS)
    serial = Harness(intervals=SlowIntervalStore())
    parallel = Harness(intervals=SlowIntervalStore(), write_concurrency=concurrency)

    # When the same file is ingested with one merge at a time and with `concurrency`
    serial_job = serial.ingest("day.csv", body)
    parallel_job = parallel.ingest("day.csv", body)

    # Then both complete with the same counters and the same stored days
    assert serial_job.status is parallel_job.status is UploadStatus.COMPLETED
    assert (parallel_job.rows_valid, parallel_job.days_written) == (serial_job.rows_valid, serial_job.days_written)
    assert parallel_job.days_written == len(METERS) * len(DAYS)
    assert parallel.stored() == serial.stored() == expected_days(METERS, DAYS)
    # and the parallel run had more than one merge in flight, never more than the limit
    assert isinstance(parallel.intervals, SlowIntervalStore) and isinstance(serial.intervals, SlowIntervalStore)
    assert serial.intervals.peak == 1
    assert 1 < parallel.intervals.peak <= min(concurrency, 4)  # the barrier: a batch of 4 at most in flight


def test_a_merge_that_keeps_failing_fails_the_delivery_and_no_job_is_completed() -> None:
    # Given a store whose writes of one meter-day keep failing (throttled beyond its own retries)
    store = SlowIntervalStore(fail_on=(METER_2, DAYS[3]))
    harness = Harness(intervals=store, write_concurrency=8)
    key, version = harness.drop("busy.csv", load_file(METERS, DAYS))

    # When the file is ingested, the merge's error is the delivery's: the queue will retry the file
    with pytest.raises(StorageUnavailable):
        harness.ingestion.ingest(key, version)

    # Then the job is still PROCESSING (never COMPLETED), marked as storing, and the original is not filed
    [job] = harness.jobs()
    assert job.status is UploadStatus.PROCESSING and job.storing
    assert harness.uploads.completions(job.job_id) == 0
    assert key in harness.objects.objects
    assert (METER_2, DAYS[3]) not in harness.stored()

    # And the last attempt ends it FAILED, saying that part of it was stored and how to complete it
    failed = harness.ingestion.give_up(key, version, "processing failed 3 times; upload the file again")
    assert failed is not None and failed.status is UploadStatus.FAILED
    assert failed.failure_reason is not None and "upload the same file again" in failed.failure_reason
    assert harness.uploads.completions(job.job_id) == 0


def test_after_a_failure_no_new_merge_starts_and_the_ones_in_flight_finish() -> None:
    # Given 40 meter-days in one batch and a merge that fails at once on the 3rd
    batch: dict[DayKey, DaySlots] = {(METER, DAY + timedelta(days=n)): DaySlots.empty() for n in range(40)}
    started: list[date] = []
    lock = threading.Lock()

    def merge(meter_id: str, day: date, slots: DaySlots) -> None:
        with lock:
            started.append(day)
        if day == DAY + timedelta(days=2):
            raise StorageUnavailable("failed")
        time.sleep(MERGE_SECONDS)

    # When they are merged 2 at a time
    with pytest.raises(StorageUnavailable):
        merge_batches([batch], merge, concurrency=2)

    # Then the pool stopped submitting soon after (at most 2 x 2 queued behind the failure), not all 40
    assert len(started) < 10


def test_a_batch_is_written_before_the_next_one_starts() -> None:
    # Given the same meter-day in two consecutive batches
    first = {(METER, DAY): DaySlots.empty(), (METER_2, DAY): DaySlots.empty()}
    second = {(METER, DAY): DaySlots.empty()}
    order: list[tuple[int, str]] = []
    lock = threading.Lock()

    def merge(meter_id: str, day: date, slots: DaySlots) -> None:
        time.sleep(MERGE_SECONDS * (5 if meter_id == METER_2 else 1))
        with lock:
            order.append((len(order), meter_id))

    # When they are merged 8 at a time
    count = merge_batches([first, second], merge, concurrency=8)

    # Then the second batch's merge came after both of the first batch's (the slow one included)
    assert count == 3
    assert [meter for _, meter in order][-1] == METER
    assert sorted(meter for _, meter in order[:2]) == sorted([METER, METER_2])


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        merge_batches([], lambda meter_id, day, slots: None, concurrency=0)
