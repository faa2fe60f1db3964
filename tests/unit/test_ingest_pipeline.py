"""The ingest pipeline (intervals.use_cases.pipeline.Ingestion) on the InMemory fakes: one dropped file -> one job.

Covers: a clean file is stored whole and filed under accepted/ with its feedback; a file with errors stores
nothing and is filed under failed/ with its errors CSV; keys that are not drops are ignored; the same object
version twice is one job; announced job ids (object metadata `job-id`); a run killed halfway through pass 2
and retried; give_up; the merge rule across uploads (later replaces earlier, final survives non-final,
partial days touch only their slots).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.slots import SLOTS_PER_DAY, DaySlots
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import StorageUnavailable

from tests.emf import EmfCapture, point, totals
from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore, VersionedObjectStore

pytestmark = pytest.mark.usefixtures("no_network")

NOW = datetime(2025, 12, 1, 0, 5, tzinfo=UTC)
PARTNER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
OTHER_PARTNER = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
METER = "11111111-1111-4111-8111-111111111111"
METER_2 = "22222222-2222-4222-8222-222222222222"
METER_3 = "33333333-3333-4333-8333-333333333333"
OTHER_METER = "44444444-4444-4444-8444-444444444444"
DAY = date(2025, 6, 1)
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region"
)

Stored = dict[tuple[str, date], DaySlots]


# ----- files ------------------------------------------------------------------------------------------------


def stamp(day: date, slot: int) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=15 * slot)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def consumed_of(meter: str, day: date, slot: int, base: float) -> float:
    """A deterministic consumption (3 decimals) for a meter, day and slot."""
    return round(base + (int(meter[:2]) * 7 + day.toordinal() % 11 + slot) % 50 / 100, 3)


def data_line(meter: str, day: date, slot: int, *, base: float = 1.0, final: bool = False) -> str:
    consumed = consumed_of(meter, day, slot, base)
    generated = 0.25
    flag = "true" if final else "false"
    energies = f"{consumed - generated:.3f},{consumed:.3f},{generated:.3f}"
    return f"{meter},{stamp(day, slot)},{stamp(day, slot + 1)},{energies},{flag},MA"


def load_file(
    meters: Iterable[str],
    days: Iterable[date],
    slots: Iterable[int] = range(SLOTS_PER_DAY),
    *,
    base: float = 1.0,
    final: bool = False,
) -> bytes:
    """A valid load file, meter-major: every meter x day x slot, energies derived from `base`."""
    slot_list, day_list = list(slots), list(days)
    lines = [HEADER]
    lines += [data_line(m, d, s, base=base, final=final) for m in meters for d in day_list for s in slot_list]
    return ("\n".join(lines) + "\n").encode()


def expected_days(
    meters: Iterable[str],
    days: Iterable[date],
    slots: Iterable[int] = range(SLOTS_PER_DAY),
    *,
    base: float = 1.0,
    final: bool = False,
) -> Stored:
    """What `load_file` with the same arguments stores on an empty store."""
    stored: Stored = {}
    slot_list, day_list = list(slots), list(days)
    for meter in meters:
        for day in day_list:
            record = stored.setdefault((meter, day), DaySlots.empty())
            for slot in slot_list:
                consumed = consumed_of(meter, day, slot, base)
                record.put(slot, float(f"{consumed - 0.25:.3f}"), float(f"{consumed:.3f}"), 0.25, final)
    return stored


# ----- fakes ------------------------------------------------------------------------------------------------


class RecordingUploads(InMemoryUploadRepository):
    """Remembers every status a job was saved with, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[tuple[str, UploadStatus]] = []

    def save(self, job: UploadJob) -> None:
        self.saved.append((job.job_id, job.status))
        super().save(job)

    def completions(self, job_id: str) -> int:
        return sum(1 for saved_id, status in self.saved if saved_id == job_id and status is UploadStatus.COMPLETED)


class CrashingIntervalStore(InMemoryIntervalStore):
    """Raises (as a Lambda killed or a store failing would stop the run) once `crash_after` merges are done."""

    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.merges = 0

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        if self.crash_after is not None and self.merges >= self.crash_after:
            raise StorageUnavailable("killed halfway through pass 2")
        self.merges += 1
        super().merge(partner_id, meter_id, day, incoming)


def meter_record(meter_id: str, partner_id: str, region: str = "ISONE", meter_type: str = "DEVICE") -> MeterRecord:
    return MeterRecord(
        meter_id=meter_id,
        partner_id=partner_id,
        partner_reference=f"ref-{meter_id[:8]}",
        data={
            "transmission_region": region,
            "meter_type": meter_type,
            "customer_classification": "RESIDENTIAL",
            "customer": {"state_or_province_code": "MA" if region == "ISONE" else "NY"},
        },
        created_at=NOW - timedelta(days=365),
        updated_at=NOW - timedelta(days=365),
    )


@dataclass
class Harness:
    """An Ingestion on the fakes, with PARTNER's meters METER..METER_3 and OTHER_PARTNER's OTHER_METER."""

    objects: InMemoryObjectStore = field(default_factory=VersionedObjectStore)
    intervals: InMemoryIntervalStore = field(default_factory=InMemoryIntervalStore)
    uploads: RecordingUploads = field(default_factory=RecordingUploads)
    meters: InMemoryMeterRepository = field(default_factory=InMemoryMeterRepository)
    write_concurrency: int = 1

    def __post_init__(self) -> None:
        for meter_id in (METER, METER_2, METER_3):
            self.meters.create(meter_record(meter_id, PARTNER))
        self.meters.create(meter_record(OTHER_METER, OTHER_PARTNER))

    @property
    def ingestion(self) -> Ingestion:
        return Ingestion(
            self.uploads,
            self.intervals,
            self.objects,
            self.meters,
            now=lambda: NOW,
            write_concurrency=self.write_concurrency,
        )

    def drop(self, name: str, body: bytes, metadata: Mapping[str, str] | None = None) -> tuple[str, str | None]:
        """Put a file into PARTNER's drop folder; (key, version)."""
        key = f"partners/{PARTNER}/interval-data/{name}"
        self.objects.put(key, body, "text/csv", metadata)
        version = self.objects.latest[key] if isinstance(self.objects, VersionedObjectStore) else None
        return key, version

    def ingest(self, name: str, body: bytes, metadata: Mapping[str, str] | None = None) -> UploadJob:
        key, version = self.drop(name, body, metadata)
        job = self.ingestion.ingest(key, version)
        assert job is not None
        return job

    def stored(self, partner_id: str = PARTNER) -> Stored:
        return {(m, d): slots for (p, m, d), slots in self.intervals.items.items() if p == partner_id}

    def jobs(self, partner_id: str = PARTNER) -> list[UploadJob]:
        return [job for _, job in self.uploads.jobs(partner_id)]

    def keys(self) -> set[str]:
        return set(self.objects.objects)

    def read(self, partner_visible_path: str) -> bytes:
        return self.objects.objects[f"partners/{PARTNER}{partner_visible_path}"]


@pytest.fixture
def harness() -> Harness:
    return Harness()


def folder(outcome: str, name: str) -> str:
    return f"partners/{PARTNER}/interval-data/{outcome}/{name}"


# ----- a clean file -----------------------------------------------------------------------------------------


def test_a_clean_file_is_completed_stored_whole_and_filed_under_accepted_with_its_feedback(harness: Harness) -> None:
    # Given a valid file of two meters x two days (96 slots each) with an extra column
    days = [DAY, DAY + timedelta(days=1)]
    body = load_file([METER, METER_2], days).replace(b",region\n", b",region,comment\n", 1)
    body = body.replace(b",MA\n", b",MA,hello\n")

    # When it is dropped and ingested
    job = harness.ingest("2025-06-01.csv", body)

    # Then the job is COMPLETED with its counters, and every day is stored with its 96 slots
    assert job.status is UploadStatus.COMPLETED
    assert (job.rows_total, job.rows_valid, job.rows_invalid, job.errors_total) == (384, 384, 0, 0)
    assert job.days_written == 4
    assert harness.stored() == expected_days([METER, METER_2], days)
    assert all(slots.count == SLOTS_PER_DAY for slots in harness.stored().values())

    # And the original moved to accepted/<file>/<file>, with <job_id>.feedback beside it
    moved = folder("accepted", "2025-06-01.csv/2025-06-01.csv")
    feedback_key = folder("accepted", f"2025-06-01.csv/{job.job_id}.feedback")
    assert harness.keys() == {moved, feedback_key}
    assert harness.objects.objects[moved] == body

    # And the job's paths are what the partner sees
    assert job.uploaded_file_path == "/interval-data/2025-06-01.csv"
    assert job.current_file_path == "/interval-data/accepted/2025-06-01.csv/2025-06-01.csv"
    assert job.feedback_file_path == f"/interval-data/accepted/2025-06-01.csv/{job.job_id}.feedback"
    assert job.error_csv_file_path is None
    assert job.unknown_columns == ["comment"]

    # And the feedback says what happened, ignored columns included
    feedback = json.loads(harness.read(job.feedback_file_path))
    assert feedback["job_id"] == job.job_id
    assert feedback["status"] == "COMPLETED"
    assert (feedback["rows_total"], feedback["rows_valid"], feedback["rows_invalid"]) == (384, 384, 0)
    assert feedback["errors_total"] == 0
    assert feedback["ignored_columns"] == ["comment"]
    assert feedback["days_written"] == 4


# ----- a file with errors -----------------------------------------------------------------------------------


def test_a_file_with_errors_is_failed_nothing_of_it_is_stored_and_it_gets_an_errors_csv(harness: Harness) -> None:
    # Given a file of 96 valid rows and two bad ones (a negative consumption, an unknown meter)
    good = load_file([METER], [DAY]).decode().rstrip("\n").split("\n")
    bad_consumption = f"{METER_2},{stamp(DAY, 0)},{stamp(DAY, 1)},-1.250,-1.000,0.250,false,MA"
    unknown = data_line("99999999-9999-4999-8999-999999999999", DAY, 0)
    body = ("\n".join([*good, bad_consumption, unknown]) + "\n").encode()

    # When it is ingested
    job = harness.ingest("bad.csv", body)

    # Then the job is FAILED and nothing is stored, not even the 96 valid rows
    assert job.status is UploadStatus.FAILED
    assert (job.rows_total, job.rows_valid, job.rows_invalid) == (98, 96, 2)
    assert harness.stored() == {}
    assert job.days_written == 0

    # And the original moved to failed/<file>/<file>, with the errors CSV and the feedback beside it
    moved = folder("failed", "bad.csv/bad.csv")
    errors_key = folder("failed", f"bad.csv/{job.job_id}.errors.csv")
    feedback_key = folder("failed", f"bad.csv/{job.job_id}.feedback")
    assert harness.keys() == {moved, errors_key, feedback_key}
    assert harness.objects.streamed == [errors_key]  # ObjectStore.put_file: never read into memory whole
    assert job.current_file_path == "/interval-data/failed/bad.csv/bad.csv"
    assert job.error_csv_file_path == f"/interval-data/failed/bad.csv/{job.job_id}.errors.csv"
    assert job.feedback_file_path == f"/interval-data/failed/bad.csv/{job.job_id}.feedback"

    # And the errors CSV has a header and one line per error: line, column, code, message
    rows = list(csv.reader(io.StringIO(harness.read(job.error_csv_file_path).decode())))
    assert rows[0] == ["line", "column", "code", "message"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("98", "energy_consumed_kwh", "CON_0003"),
        ("99", "meter_id", "MTR_0003"),
    ]
    assert all(r[3] for r in rows[1:])
    assert len(rows) - 1 == job.errors_total == 2
    assert [(e["line"], e["code"]) for e in job.errors] == [(98, "CON_0003"), (99, "MTR_0003")]

    feedback = json.loads(harness.read(job.feedback_file_path))
    assert feedback["status"] == "FAILED"
    assert feedback["errors_total"] == 2
    assert {(item["code"], item["count"]) for item in feedback["error_summary"]} == {("CON_0003", 1), ("MTR_0003", 1)}


def test_a_file_naming_another_partners_meter_is_mtr_0003_and_stores_nothing_for_anyone(harness: Harness) -> None:
    # Given a file in PARTNER's folder about OTHER_PARTNER's meter
    job = harness.ingest("theirs.csv", load_file([OTHER_METER], [DAY], range(4)))

    # Then it is refused as an unknown meter, and nothing is stored for either partner
    assert job.status is UploadStatus.FAILED
    assert {e["code"] for e in job.errors} == {"MTR_0003"}
    assert harness.stored(PARTNER) == {} and harness.stored(OTHER_PARTNER) == {}


def test_a_meter_whose_data_comes_from_the_iso_is_mtr_0004(harness: Harness) -> None:
    ercot = "55555555-5555-4555-8555-555555555555"
    harness.meters.create(meter_record(ercot, PARTNER, region="ERCOT", meter_type="UTILITY_METER"))

    job = harness.ingest("ercot.csv", load_file([ercot], [DAY], range(4)).replace(b",MA\n", b",\n"))

    assert job.status is UploadStatus.FAILED
    assert {e["code"] for e in job.errors} == {"MTR_0004"}
    assert harness.stored() == {}


# ----- keys that are not drops ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        f"partners/{PARTNER}/interval-data/accepted/f.csv/f.csv",
        f"partners/{PARTNER}/interval-data/failed/f.csv/f.csv",
        f"partners/{PARTNER}/interval-data/accepted/f.csv/{uuid.UUID(int=1)}.feedback",
        f"partners/{PARTNER}/interval-data/failed/f.csv/{uuid.UUID(int=1)}.errors.csv",
        f"partners/{PARTNER}/interval-data/sub/f.csv",
        f"partners/{PARTNER}/batch-payloads/f.csv",
        f"partners/{PARTNER}/interval-data/",
        "partners/not-a-partner-id/interval-data/f.csv",
        "elsewhere/f.csv",
    ],
    ids=["accepted", "failed", "feedback", "errors-csv", "nested", "other-prefix", "folder", "bad-partner", "root"],
)
def test_a_key_that_is_not_a_drop_is_ignored_and_nothing_is_written(harness: Harness, key: str) -> None:
    # Given a valid file at a key that is not a partner drop
    harness.objects.put(key, load_file([METER], [DAY]), "text/csv")
    before = dict(harness.objects.objects)

    # When it is handed to the pipeline, and given up on
    assert harness.ingestion.ingest(key) is None
    assert harness.ingestion.give_up(key, None, "whatever") is None

    # Then nothing happened: no job, nothing stored, no object written or moved
    assert harness.uploads.by_id == {} and harness.uploads.claims == {}
    assert harness.stored() == {}
    assert harness.objects.objects == before


def test_a_drop_that_is_gone_is_ignored(harness: Harness) -> None:
    assert harness.ingestion.ingest(f"partners/{PARTNER}/interval-data/gone.csv") is None
    assert harness.uploads.by_id == {}


# ----- at-least-once delivery -------------------------------------------------------------------------------


def test_the_same_object_version_ingested_twice_is_one_job_and_the_second_call_returns_it(harness: Harness) -> None:
    # Given a file ingested once
    key, version = harness.drop("twice.csv", load_file([METER], [DAY]))
    first = harness.ingestion.ingest(key, version)
    assert first is not None and first.status is UploadStatus.COMPLETED
    state = harness.stored()
    objects = dict(harness.objects.objects)

    # When the same object version is delivered again (S3 keeps the version after the move)
    second = harness.ingestion.ingest(key, version)

    # Then the finished job is returned, and nothing changed
    assert second == first
    assert len(harness.jobs()) == 1
    assert harness.stored() == state
    assert harness.objects.objects == objects
    assert harness.uploads.completions(first.job_id) == 1


def test_without_versions_a_second_delivery_after_the_move_finds_nothing_and_makes_no_job() -> None:
    # Given the plain fake (no versions): the object is gone once filed
    harness = Harness(objects=InMemoryObjectStore())
    key, _ = harness.drop("twice.csv", load_file([METER], [DAY]))
    first = harness.ingestion.ingest(key)
    assert first is not None and first.status is UploadStatus.COMPLETED

    # When the event is delivered again, nothing is done
    assert harness.ingestion.ingest(key) is None
    assert len(harness.jobs()) == 1


def test_two_versions_of_the_same_file_are_two_jobs_with_the_state_of_one(harness: Harness) -> None:
    body = load_file([METER], [DAY])
    first = harness.ingest("again.csv", body)
    state = harness.stored()
    second = harness.ingest("again.csv", body)

    assert first.job_id != second.job_id
    assert first.status is second.status is UploadStatus.COMPLETED
    assert harness.stored() == state == expected_days([METER], [DAY])


# ----- announced job ids ------------------------------------------------------------------------------------


def test_a_job_announced_in_the_metadata_is_used(harness: Harness) -> None:
    # Given a job the upload API created (QUEUED) for the key, announced in the object's metadata
    job_id = str(uuid.uuid4())
    key = f"partners/{PARTNER}/interval-data/api.csv"
    queued = UploadJob(
        job_id=job_id,
        partner_id=PARTNER,
        uploaded_file_path="/interval-data/api.csv",
        current_file_path="/interval-data/api.csv",
        object_key=key,
        uploaded_at=NOW,
        updated_at=NOW,
    )
    harness.uploads.create(queued)

    # When the file is ingested
    job = harness.ingest("api.csv", load_file([METER], [DAY]), metadata={"job-id": job_id})

    # Then that job ran the file (no other job exists)
    assert job.job_id == job_id
    assert job.status is UploadStatus.COMPLETED
    assert [j.job_id for j in harness.jobs()] == [job_id]
    assert [status for _, status in harness.uploads.saved] == [
        UploadStatus.PROCESSING,  # validating
        UploadStatus.PROCESSING,  # clean: storing
        UploadStatus.COMPLETED,
    ]
    assert {saved_id for saved_id, _ in harness.uploads.saved} == {job_id}
    assert job.uploaded_at == queued.uploaded_at


def test_a_job_id_announced_without_a_record_becomes_the_jobs_id(harness: Harness) -> None:
    job_id = str(uuid.uuid4())
    job = harness.ingest("presigned.csv", load_file([METER], [DAY]), metadata={"job-id": job_id.upper()})
    assert job.job_id == job_id
    assert job.status is UploadStatus.COMPLETED


def test_metadata_naming_another_files_job_is_ignored(harness: Harness) -> None:
    # Given a finished job of another file
    other = harness.ingest("first.csv", load_file([METER], [DAY]))

    # When a second file announces that job's id
    job = harness.ingest("second.csv", load_file([METER_2], [DAY]), metadata={"job-id": other.job_id})

    # Then it gets a job of its own, and the other job is untouched
    assert job.job_id != other.job_id
    assert job.status is UploadStatus.COMPLETED
    assert job.uploaded_file_path == "/interval-data/second.csv"
    assert harness.uploads.get(PARTNER, other.job_id) == other
    assert len(harness.jobs()) == 2


def test_a_second_version_announcing_an_already_finished_job_still_gets_ingested(harness: Harness) -> None:
    # Given a file uploaded with an announced job id, ingested and FAILED (an unknown meter)
    job_id = str(uuid.uuid4())
    first = harness.ingest("fixed.csv", load_file([OTHER_METER], [DAY], range(4)), metadata={"job-id": job_id})
    assert first.status is UploadStatus.FAILED

    # When the partner fixes the file and PUTs it again to the same key with the same metadata
    second = harness.ingest("fixed.csv", load_file([METER], [DAY]), metadata={"job-id": job_id})

    # Then the fixed version is ingested under a job of its own (not answered with the first version's job)
    assert second.job_id != first.job_id
    assert second.status is UploadStatus.COMPLETED
    assert harness.uploads.get(PARTNER, job_id) == first
    assert harness.stored() == expected_days([METER], [DAY])


# ----- a run killed halfway through pass 2 ------------------------------------------------------------------


@pytest.mark.parametrize("crash_after", [0, 1, 3, 5])
def test_a_run_killed_halfway_through_storing_and_retried_ends_in_the_state_of_one_clean_run(
    crash_after: int,
) -> None:
    meters, days = [METER, METER_2, METER_3], [DAY, DAY + timedelta(days=1)]
    body = load_file(meters, days)

    # Given the same file ingested cleanly elsewhere
    clean = Harness()
    clean_job = clean.ingest("day.csv", body)
    assert clean_job.status is UploadStatus.COMPLETED

    # And a run whose store dies after `crash_after` of its 6 day merges
    store = CrashingIntervalStore(crash_after=crash_after)
    harness = Harness(intervals=store)
    key, version = harness.drop("day.csv", body)
    with pytest.raises(StorageUnavailable):
        harness.ingestion.ingest(key, version)
    [job] = harness.jobs()
    assert job.status is UploadStatus.PROCESSING
    assert key in harness.objects.objects  # not filed: the retry will find it
    assert len(harness.stored()) == crash_after

    # When the delivery is retried
    store.crash_after = None
    retried = harness.ingestion.ingest(key, version)

    # Then the job completes once and the stored state equals the clean run's
    assert retried is not None and retried.job_id == job.job_id
    assert retried.status is UploadStatus.COMPLETED
    assert harness.stored() == clean.stored() == expected_days(meters, days)
    assert harness.uploads.completions(job.job_id) == 1
    assert len(harness.jobs()) == 1
    assert (retried.rows_total, retried.rows_valid, retried.days_written) == (576, 576, 6)


# ----- give_up ----------------------------------------------------------------------------------------------


def test_give_up_ends_the_job_failed_with_the_reason(harness: Harness) -> None:
    key, version = harness.drop("poison.csv", load_file([METER], [DAY]))

    job = harness.ingestion.give_up(key, version, "processing failed 3 times; upload the file again")

    assert job is not None
    assert job.status is UploadStatus.FAILED
    assert job.failure_reason == "processing failed 3 times; upload the file again"
    assert harness.uploads.get(PARTNER, job.job_id) == job
    assert harness.stored() == {}


def test_give_up_after_a_crashed_run_fails_that_runs_job(harness: Harness) -> None:
    store = CrashingIntervalStore(crash_after=0)
    harness = Harness(intervals=store)
    key, version = harness.drop("poison.csv", load_file([METER], [DAY]))
    with pytest.raises(StorageUnavailable):
        harness.ingestion.ingest(key, version)

    job = harness.ingestion.give_up(key, version, "processing failed 3 times")

    assert job is not None and job.status is UploadStatus.FAILED
    assert [j.job_id for j in harness.jobs()] == [job.job_id]
    # the file was clean and storing had begun: the reason says what was stored and how to finish
    assert job.failure_reason is not None and job.failure_reason.startswith("processing failed 3 times; ")
    assert "upload the same file again" in job.failure_reason


def test_give_up_on_a_finished_job_leaves_it_as_it_is(harness: Harness) -> None:
    key, version = harness.drop("done.csv", load_file([METER], [DAY]))
    done = harness.ingestion.ingest(key, version)

    assert harness.ingestion.give_up(key, version, "late") == done


def test_a_file_given_up_halfway_through_storing_says_so_and_a_re_upload_completes_it() -> None:
    # Given a clean file whose store dies after 2 of its 3 day records, on every attempt
    store = CrashingIntervalStore(crash_after=2)
    harness = Harness(intervals=store)
    key, version = harness.drop("half.csv", load_file([METER, METER_2, METER_3], [DAY]))
    with pytest.raises(StorageUnavailable):
        harness.ingestion.ingest(key, version)

    # When the last attempt gives up
    job = harness.ingestion.give_up(key, version, "processing failed 3 times")

    # Then the job is FAILED, says that part of the file was stored and how to complete it, and the file is filed
    assert job is not None and job.status is UploadStatus.FAILED
    assert job.failure_reason is not None and "part of it was already stored" in job.failure_reason
    assert job.current_file_path == "/interval-data/failed/half.csv/half.csv"
    # And uploading the same file again (the store healthy now) stores it whole
    store.crash_after = None
    again = harness.ingest("half.csv", load_file([METER, METER_2, METER_3], [DAY]))
    assert again.status is UploadStatus.COMPLETED
    assert harness.stored() == expected_days([METER, METER_2, METER_3], [DAY])


# ----- the merge rule across uploads ------------------------------------------------------------------------


def test_a_later_upload_replaces_earlier_non_final_values(harness: Harness) -> None:
    harness.ingest("v1.csv", load_file([METER], [DAY], base=1.0))
    harness.ingest("v2.csv", load_file([METER], [DAY], base=5.0))

    assert harness.stored() == expected_days([METER], [DAY], base=5.0)


def test_a_final_value_survives_a_later_non_final_one_and_is_replaced_by_a_later_final_one(harness: Harness) -> None:
    harness.ingest("final.csv", load_file([METER], [DAY], base=1.0, final=True))
    later = harness.ingest("estimate.csv", load_file([METER], [DAY], base=5.0, final=False))

    assert later.status is UploadStatus.COMPLETED
    assert harness.stored() == expected_days([METER], [DAY], base=1.0, final=True)

    harness.ingest("corrected.csv", load_file([METER], [DAY], base=3.0, final=True))
    assert harness.stored() == expected_days([METER], [DAY], base=3.0, final=True)


def test_a_partial_day_re_upload_updates_only_its_slots(harness: Harness) -> None:
    # Given a whole day, then a re-upload of slots 40..47 with other values
    harness.ingest("day.csv", load_file([METER], [DAY], base=1.0))
    harness.ingest("fix.csv", load_file([METER], [DAY], range(40, 48), base=9.0))

    # Then slots 40..47 carry the new values and the 88 others the old ones
    stored = harness.stored()[(METER, DAY)]
    old = expected_days([METER], [DAY], base=1.0)[(METER, DAY)]
    new = expected_days([METER], [DAY], range(40, 48), base=9.0)[(METER, DAY)]
    assert stored.count == SLOTS_PER_DAY
    for slot in range(SLOTS_PER_DAY):
        source = new if 40 <= slot < 48 else old
        assert (stored.net[slot], stored.consumed[slot], stored.generated[slot]) == (
            source.net[slot],
            source.consumed[slot],
            source.generated[slot],
        ), slot


def test_a_partial_first_upload_leaves_the_other_slots_missing(harness: Harness) -> None:
    harness.ingest("morning.csv", load_file([METER], [DAY], range(0, 48)))

    stored = harness.stored()[(METER, DAY)]
    assert list(stored.slots()) == list(range(48))
    assert list(stored.missing()) == list(range(48, 96))


# ----- metrics ----------------------------------------------------------------------------------------------


def test_terminal_files_count_by_status_with_their_rows_and_the_lag_since_s3_had_them(
    harness: Harness, emf: EmfCapture
) -> None:
    # Given a clean file of 96 rows created in S3 30 s ago, a file with one bad row of 97, and one given up on
    clean_key, clean_version = harness.drop("clean.csv", load_file([METER], [DAY]))
    bad = (
        load_file([METER], [DAY]) + f"{METER_2},{stamp(DAY, 0)},{stamp(DAY, 1)},-1.250,-1.000,0.250,false,MA\n".encode()
    )
    bad_key, bad_version = harness.drop("bad.csv", bad)
    lost_key, lost_version = harness.drop("lost.csv", load_file([METER], [DAY]))

    # When each reaches a terminal status (and a redelivery of the clean one finds it filed)
    harness.ingestion.ingest(clean_key, clean_version, created_at=NOW - timedelta(seconds=30))
    harness.ingestion.ingest(clean_key, clean_version, created_at=NOW - timedelta(seconds=30))
    harness.ingestion.ingest(bad_key, bad_version, created_at=NOW - timedelta(seconds=90))
    harness.ingestion.give_up(lost_key, lost_version, "kept failing", created_at=NOW - timedelta(minutes=20))

    # Then each file counts once by status, only the clean file's rows are ingested, and the lag is per file
    metrics = emf()
    assert totals(metrics) == {
        point("IntervalFiles", Status="COMPLETED"): 1,
        point("IntervalFiles", Status="FAILED"): 2,
        point("IntervalRowsIngested"): 96,
        point("IntervalRowsRejected"): 1,
        point("IntervalIngestLag"): 30 + 90 + 1200,
    }
    [lag] = [metric for metric in metrics if metric.name == "IntervalIngestLag"]
    assert (lag.unit, sorted(lag.values)) == ("Seconds", [30.0, 90.0, 1200.0])
