"""Interval file drops end to end on moto: a file put into the data bucket at partners/<pid>/interval-data/<name>,
the bucket notification (from template.yaml) enqueuing its S3 event on IntervalFilesQueue, and
functions/interval_ingest/app.py fed the queue's messages as SQS records (see the `interval_drops` fixture).

Covers the S3 drop bullets and the "Reliability and bad input" list of issue 3: the S3 test event, URL-encoded
keys, duplicate deliveries and uploads, our own outputs, DynamoDB throttling, a poison file on its last
attempt, every listed bad input (each ends in a job with a documented outcome), and tenant isolation.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from botocore.exceptions import ClientError
from meterhub.intervals.adapters.dynamodb import dynamo_interval_store
from meterhub.intervals.adapters.uploads import dynamo_upload_repository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.slots import SLOTS_PER_DAY, DaySlots
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.adapters import clients

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

pytestmark = pytest.mark.pristine_aws  # the S3 test event that provisioning queues, and whole-queue reads

DAY = date(2025, 6, 1)
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region"
)
EVENTS = Path(__file__).resolve().parents[2] / "events" / "interval_ingest"

Stored = dict[tuple[str, date], DaySlots]


class Delivery(Protocol):
    """tests/conftest.py Delivery."""

    @property
    def key(self) -> str | None: ...
    @property
    def receive_count(self) -> int: ...
    @property
    def failed(self) -> bool: ...


class IntervalDrops(Protocol):
    """tests/conftest.py IntervalDrops (the `interval_drops` fixture)."""

    module: Any
    jobs_table: str
    intervals_table: str

    def meter(self, partner_id: str, *, region: str = "ISONE", meter_type: str = "DEVICE") -> str: ...
    def key(self, partner_id: str, name: str) -> str: ...
    def put(self, partner_id: str, name: str, body: bytes, metadata: dict[str, str] | None = None) -> str: ...
    def read(self, key: str) -> bytes: ...
    def keys(self, partner_id: str) -> list[str]: ...
    def receive(self) -> list[dict[str, Any]]: ...
    def event(self, messages: list[dict[str, Any]], receive_count: int | None = None) -> dict[str, Any]: ...
    def handle(self, event: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, messages: list[dict[str, Any]]) -> None: ...
    def run_queue(self, *, redeliver: bool = False, max_rounds: int = 20) -> list[Delivery]: ...
    def dead_letters(self) -> int: ...


# ----- files ------------------------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def slot_time(day: date, slot: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=15 * slot)


def cells(meter: str, day: date, slot: int) -> list[str]:
    """The cells of a valid row: energies depend on meter, day and slot (3 decimals)."""
    consumed = (sum(map(ord, meter[:8])) + day.toordinal() % 7 * 13 + slot) % 90 / 100 + 0.5
    generated = 0.125
    return [
        meter,
        stamp(slot_time(day, slot)),
        stamp(slot_time(day, slot + 1)),
        f"{consumed - generated:.3f}",
        f"{consumed:.3f}",
        f"{generated:.3f}",
        "false",
        "MA",
    ]


def rows(meters: Iterable[str], days: Iterable[date], slots: Iterable[int] = range(SLOTS_PER_DAY)) -> list[list[str]]:
    slot_list, day_list = list(slots), list(days)
    return [cells(m, d, s) for m in meters for d in day_list for s in slot_list]


def csv_file(data: list[list[str]], header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *(",".join(row) for row in data)]).encode() + newline.encode()


def expected(data: list[list[str]]) -> Stored:
    """The day records a clean ingestion of these rows stores on an empty table."""
    stored: Stored = {}
    for meter, start, _end, net, consumed, generated, final, _region in data:
        moment = datetime.fromisoformat(start)
        day = moment.date()
        record = stored.setdefault((meter, day), DaySlots.empty())
        slot = (moment.hour * 60 + moment.minute) // 15
        record.put(slot, float(net), float(consumed), float(generated), final == "true")
    return stored


# ----- reading back -----------------------------------------------------------------------------------------


def jobs(drops: IntervalDrops, partner_id: str) -> list[UploadJob]:
    return [job for _, job in dynamo_upload_repository(drops.jobs_table).jobs(partner_id)]


def only_job(drops: IntervalDrops, partner_id: str) -> UploadJob:
    [job] = jobs(drops, partner_id)
    return job


def stored(drops: IntervalDrops, partner_id: str, meters: Iterable[str]) -> Stored:
    store = dynamo_interval_store(drops.intervals_table)
    return {
        (meter, day): slots
        for meter in meters
        for day, slots in store.days(partner_id, meter, date(2000, 1, 1), date(2100, 1, 1))
    }


def object_key(partner_id: str, partner_path: str | None) -> str:
    assert partner_path is not None
    return f"partners/{partner_id}{partner_path}"


def codes(job: UploadJob) -> set[str]:
    return {str(item["code"]) for item in job.error_summary}


@pytest.fixture
def drops(interval_drops: IntervalDrops) -> IntervalDrops:
    """The fixture, with the S3 test event (sent when the bucket notification was configured) consumed."""
    messages = interval_drops.receive()
    assert [json.loads(m["Body"]).get("Event") for m in messages] == ["s3:TestEvent"]
    interval_drops.delete(messages)
    return interval_drops


@pytest.fixture
def meter(drops: IntervalDrops, partner: IssuedKey) -> str:
    """An ISONE DEVICE meter of `partner` (its programs take partner-supplied data)."""
    return drops.meter(partner.partner_id)


# ----- the S3 test event ------------------------------------------------------------------------------------


def test_the_s3_test_event_is_acknowledged(interval_drops: IntervalDrops, partner: IssuedKey) -> None:
    # Given the test event S3 sent when the notification was configured, and the one of events/
    [message] = interval_drops.receive()
    assert json.loads(message["Body"])["Event"] == "s3:TestEvent"
    sample = json.loads((EVENTS / "s3_test_event.json").read_text())

    # When the function gets them
    results = [interval_drops.handle(interval_drops.event([message])), interval_drops.handle(sample)]

    # Then both are acknowledged and nothing else happens
    assert results == [{"batchItemFailures": []}, {"batchItemFailures": []}]
    assert jobs(interval_drops, partner.partner_id) == []


# ----- a drop, end to end -----------------------------------------------------------------------------------


def test_a_clean_drop_becomes_a_completed_job_and_our_own_outputs_start_no_job(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    data = rows([meter], [DAY])

    # Given a clean file dropped into the partner's folder
    version = drops.put(pid, "2025-06-01.csv", csv_file(data))

    # When the queue is drained through the function
    deliveries = drops.run_queue()

    # Then one job COMPLETED for that object version, and the day is stored with its 96 slots
    job = only_job(drops, pid)
    assert job.status is UploadStatus.COMPLETED
    assert job.object_version == version
    assert (job.rows_total, job.rows_valid, job.days_written) == (96, 96, 1)
    assert stored(drops, pid, [meter]) == expected(data)

    # And the original and its feedback are filed under accepted/
    accepted = f"partners/{pid}/interval-data/accepted/2025-06-01.csv"
    assert drops.keys(pid) == sorted([f"{accepted}/{job.job_id}.feedback", f"{accepted}/2025-06-01.csv"])
    assert drops.read(f"{accepted}/2025-06-01.csv") == csv_file(data)

    # And the events of those outputs (the moved file, the feedback) were acknowledged without a new job
    assert not any(d.failed for d in deliveries)
    assert sorted(str(d.key) for d in deliveries) == sorted(
        [drops.key(pid, "2025-06-01.csv"), f"{accepted}/2025-06-01.csv", f"{accepted}/{job.job_id}.feedback"]
    )
    assert len(jobs(drops, pid)) == 1


def test_a_failed_files_outputs_start_no_job(drops: IntervalDrops, partner: IssuedKey, meter: str) -> None:
    pid = partner.partner_id
    bad = rows([meter], [DAY], range(2))
    bad[1][4] = "-1.000"

    drops.put(pid, "bad.csv", csv_file(bad))
    deliveries = drops.run_queue()

    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    failed = f"partners/{pid}/interval-data/failed/bad.csv"
    assert drops.keys(pid) == sorted(
        [f"{failed}/bad.csv", f"{failed}/{job.job_id}.errors.csv", f"{failed}/{job.job_id}.feedback"]
    )
    assert {d.key for d in deliveries if d.key and "/failed/" in d.key} == {
        f"{failed}/bad.csv",
        f"{failed}/{job.job_id}.errors.csv",
        f"{failed}/{job.job_id}.feedback",
    }
    assert not any(d.failed for d in deliveries)
    assert len(jobs(drops, pid)) == 1


def test_the_errors_csv_of_a_file_with_formula_cells_opens_as_text_and_the_original_is_kept_byte_for_byte(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    # Given a file whose bad cells are spreadsheet formulas (and one negative number)
    bad = rows([meter], [DAY], range(4))
    bad[0][2] = "=2+5"
    bad[1][3] = "=2+5"
    bad[2][0] = "@SUM(1+1)"
    bad[3][4] = "-1.000"
    body = csv_file(bad)

    # When it is dropped and ingested
    drops.put(pid, "formulas.csv", body)
    drops.run_queue()

    # Then the errors CSV echoes each bad value (quoted, inside its message) and no cell can start a formula
    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    table = list(csv.reader(io.StringIO(drops.read(object_key(pid, job.error_csv_file_path)).decode(), newline="")))
    assert table[0] == ["line", "column", "code", "message"]
    messages = {row[1]: row[3] for row in table[1:]}
    assert messages["interval_end_time_utc"].startswith("'=2+5' is not")
    assert "'=2+5'" in messages["energy_net_kwh"]
    assert "'@SUM(1+1)'" in messages["meter_id"]
    assert "'-1.000' is negative" in messages["energy_consumed_kwh"]
    assert not [cell for row in table for cell in row if cell.lstrip()[:1] in {"=", "+", "-", "@"}]
    # And the CSV says what the job's JSON says, to the letter
    assert [(int(r[0]), r[1], r[2], r[3]) for r in table[1:]] == [
        (e["line"], e["column"], e["code"], e["message"]) for e in job.errors
    ]

    # And the partner's original is filed as it was sent, formulas included
    assert drops.read(object_key(pid, job.current_file_path)) == body


def test_a_url_encoded_key_with_spaces_and_plus_signs_is_ingested_under_its_real_name(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    name = "2025-06-01 site A+B.csv"
    drops.put(pid, name, csv_file(rows([meter], [DAY], range(8))))

    # The S3 event carries the key URL-encoded (space as '+', '+' as %2B)
    [message] = drops.receive()
    encoded = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    assert "2025-06-01+site+A%2BB.csv" in encoded
    assert drops.handle(drops.event([message])) == {"batchItemFailures": []}

    job = only_job(drops, pid)
    assert job.status is UploadStatus.COMPLETED
    assert job.uploaded_file_path == f"/interval-data/{name}"
    assert job.current_file_path == f"/interval-data/accepted/{name}/{name}"
    assert f"partners/{pid}/interval-data/accepted/{name}/{name}" in drops.keys(pid)
    assert len(stored(drops, pid, [meter])[(meter, DAY)].net) == SLOTS_PER_DAY


def test_a_key_with_spaces_and_unicode_is_ingested_under_its_real_name(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    name = "relevé été №3 Zürich.csv"
    drops.put(pid, name, csv_file(rows([meter], [DAY], range(8))))

    # The S3 event carries the key URL-encoded (space as '+', UTF-8 as percent escapes)
    [message] = drops.receive()
    encoded = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    assert encoded.endswith("relev%C3%A9+%C3%A9t%C3%A9+%E2%84%963+Z%C3%BCrich.csv")
    assert drops.handle(drops.event([message])) == {"batchItemFailures": []}

    job = only_job(drops, pid)
    assert job.status is UploadStatus.COMPLETED
    assert job.uploaded_file_path == f"/interval-data/{name}"
    assert f"partners/{pid}/interval-data/accepted/{name}/{name}" in drops.keys(pid)
    assert len(stored(drops, pid, [meter])[(meter, DAY)].net) == SLOTS_PER_DAY


def test_the_sample_event_of_events_folder_is_handled(drops: IntervalDrops) -> None:
    # events/interval_ingest/s3_object_created.json names an object that does not exist here: acknowledged
    sample = json.loads((EVENTS / "s3_object_created.json").read_text())
    assert drops.handle(sample) == {"batchItemFailures": []}


# ----- at-least-once -----------------------------------------------------------------------------------------


def test_the_same_s3_event_delivered_twice_is_one_job_and_one_stored_state(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    data = rows([meter], [DAY, DAY + timedelta(days=1)])
    drops.put(pid, "twice.csv", csv_file(data))
    [message] = drops.receive()

    # When the same message is delivered twice (two invocations)
    first = drops.handle(drops.event([message]))
    state = stored(drops, pid, [meter])
    job = only_job(drops, pid)
    second = drops.handle(drops.event([message], receive_count=2))

    # Then both are acknowledged, one job exists for the object version, and the state is that of one run
    assert first == second == {"batchItemFailures": []}
    assert jobs(drops, pid) == [job]
    assert job.status is UploadStatus.COMPLETED
    assert stored(drops, pid, [meter]) == state == expected(data)


def test_the_same_file_uploaded_twice_is_two_jobs_and_one_stored_state(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    data = rows([meter], [DAY])

    # Given the same file put twice (two object versions) before the function runs
    versions = {drops.put(pid, "same.csv", csv_file(data)), drops.put(pid, "same.csv", csv_file(data))}

    deliveries = drops.run_queue()

    # Then each version has its COMPLETED job, and the stored state is that of one upload
    found = jobs(drops, pid)
    assert len(found) == 2
    assert {job.object_version for job in found} == versions
    assert {job.status for job in found} == {UploadStatus.COMPLETED}
    assert stored(drops, pid, [meter]) == expected(data)
    assert not any(d.failed for d in deliveries)


# ----- DynamoDB throttling ----------------------------------------------------------------------------------


@dataclass
class Throttle:
    calls: int = 0
    throttled: int = 0


@pytest.fixture
def throttle(drops: IntervalDrops, monkeypatch: pytest.MonkeyPatch) -> Throttle:
    """Every 5th PutItem on the intervals table (20 %) fails with ProvisionedThroughputExceededException.

    Raised from a wrapper around the shared client's put_item, so botocore's own retries never see it: this
    is a throttle that outlasted them, and the pipeline gets it."""
    client = clients.dynamodb()
    original: Callable[..., Any] = client.put_item
    state = Throttle()

    def put_item(**kwargs: Any) -> Any:
        if kwargs.get("TableName") == drops.intervals_table:
            state.calls += 1
            if state.calls % 5 == 0:
                state.throttled += 1
                raise ClientError(
                    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
                    "PutItem",
                )
        return original(**kwargs)

    monkeypatch.setattr(client, "put_item", put_item)
    return state


THROTTLED_DAYS = [DAY + timedelta(days=n) for n in range(3)]


def test_a_throttled_write_is_retried_by_the_store_and_the_first_delivery_completes(
    drops: IntervalDrops, partner: IssuedKey, throttle: Throttle
) -> None:
    pid = partner.partner_id
    meters = [drops.meter(pid) for _ in range(4)]
    drops.put(pid, "busy.csv", csv_file(rows(meters, THROTTLED_DAYS)))

    # When the first delivery meets a throttled write (12 day items: the 5th write fails)
    [message] = drops.receive()
    result = drops.handle(drops.event([message]))

    # Then the interval store backs off and retries that write itself: the delivery succeeds, the job completes
    assert result == {"batchItemFailures": []}
    assert throttle.throttled >= 1
    job = only_job(drops, pid)
    assert job.status is UploadStatus.COMPLETED
    assert drops.key(pid, "busy.csv") not in drops.keys(pid)


def test_with_20_percent_of_interval_writes_throttled_redeliveries_converge_and_every_row_lands(
    drops: IntervalDrops, partner: IssuedKey, throttle: Throttle
) -> None:
    pid = partner.partner_id
    meters = [drops.meter(pid) for _ in range(4)]
    data = rows(meters, THROTTLED_DAYS)
    drops.put(pid, "busy.csv", csv_file(data))

    # When the queue delivers (and redelivers what fails) until it is empty
    drops.run_queue(redeliver=True)

    # Then every row landed: the state of a clean run, one COMPLETED job, nothing dead-lettered
    assert throttle.throttled > 0
    job = only_job(drops, pid)
    assert job.status is UploadStatus.COMPLETED, job.failure_reason
    assert stored(drops, pid, meters) == expected(data)
    assert drops.dead_letters() == 0


def test_the_function_writes_in_parallel_and_stores_what_one_writer_stores(
    drops: IntervalDrops, partner: IssuedKey, throttle: Throttle
) -> None:
    pid = partner.partner_id
    meters = [drops.meter(pid) for _ in range(4)]
    data = rows(meters, THROTTLED_DAYS)

    # Given the function's write concurrency (template.yaml) and the same file ingested with one writer
    assert drops.module.Settings.load().interval_write_concurrency > 1
    single = Ingestion(
        uploads=dynamo_upload_repository(drops.jobs_table),
        intervals=dynamo_interval_store(drops.intervals_table),
        objects=drops.module.wiring.data_objects(drops.module.Settings.load()),
        meters=drops.module.wiring.meter_repository(drops.module.Settings.load()),
        write_concurrency=1,
    )
    drops.put(pid, "serial.csv", csv_file(data))
    [message] = drops.receive()
    drops.delete([message])
    serial_job = single.ingest(drops.key(pid, "serial.csv"))
    assert serial_job is not None and serial_job.status is UploadStatus.COMPLETED
    serial_state = stored(drops, pid, meters)

    # When the function ingests a second upload of it, its merges throttled 20 % of the time
    drops.put(pid, "parallel.csv", csv_file(data))
    deliveries = drops.run_queue(redeliver=True)

    # Then it completes on the first delivery with the same counters and the same stored state
    assert not any(d.failed for d in deliveries)
    assert throttle.throttled > 0
    parallel_job = next(job for job in jobs(drops, pid) if job.uploaded_file_path == "/interval-data/parallel.csv")
    assert parallel_job.status is UploadStatus.COMPLETED
    assert (parallel_job.rows_valid, parallel_job.days_written) == (serial_job.rows_valid, serial_job.days_written)
    assert stored(drops, pid, meters) == serial_state == expected(data)


def test_a_day_write_throttled_beyond_every_retry_fails_the_file_and_no_job_is_completed(
    drops: IntervalDrops, partner: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meterhub.intervals.adapters import dynamodb as interval_adapter

    pid = partner.partner_id
    meters = [drops.meter(pid) for _ in range(4)]
    monkeypatch.setattr(interval_adapter, "THROTTLE_BASE_SECONDS", 0.001)
    # Given one meter's writes throttled on every attempt (botocore's and the store's own retries exhausted)
    client = clients.dynamodb()
    original: Callable[..., Any] = client.put_item
    throttled = Throttle()

    def put_item(**kwargs: Any) -> Any:
        if kwargs.get("TableName") == drops.intervals_table and meters[2] in kwargs["Item"]["pk"]["S"]:
            throttled.throttled += 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "PutItem",
            )
        return original(**kwargs)

    monkeypatch.setattr(client, "put_item", put_item)
    drops.put(pid, "busy.csv", csv_file(rows(meters, THROTTLED_DAYS)))

    # When the queue delivers it up to its maxReceiveCount
    deliveries = drops.run_queue(redeliver=True)

    # Then each attempt retried the throttled write, attempts 1 and 2 failed, and the last ended the job FAILED
    assert throttled.throttled >= 3 * interval_adapter.THROTTLE_ATTEMPTS
    assert [(d.receive_count, d.failed) for d in deliveries[:3]] == [(1, True), (2, True), (3, False)]
    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    assert job.failure_reason is not None and "upload the same file again" in job.failure_reason
    assert job.current_file_path == "/interval-data/failed/busy.csv/busy.csv"
    # never COMPLETED, and the throttled meter has nothing stored
    assert stored(drops, pid, [meters[2]]) == {}
    assert drops.dead_letters() == 0


# ----- a poison file ----------------------------------------------------------------------------------------


def test_a_file_failing_on_every_attempt_ends_its_job_failed_on_the_last_one_and_is_not_dead_lettered(
    drops: IntervalDrops, partner: IssuedKey, meter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = partner.partner_id

    def poison(self: Ingestion, key: str, version: str | None = None) -> UploadJob | None:
        raise RuntimeError("the ingest function crashed on this file")

    monkeypatch.setattr(Ingestion, "ingest", poison)
    drops.put(pid, "poison.csv", csv_file(rows([meter], [DAY], range(4))))

    # When the queue delivers and redelivers it
    deliveries = drops.run_queue(redeliver=True)

    # Then attempts 1 and 2 are batch item failures, and the 3rd (the queue's maxReceiveCount) is acknowledged
    assert [(d.receive_count, d.failed) for d in deliveries[:3]] == [(1, True), (2, True), (3, False)]
    # (the events of the files it then writes under failed/ are our own outputs: acknowledged)
    assert all(not d.failed for d in deliveries[3:])
    # with the job FAILED, saying why, and nothing on the dead-letter queue
    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    assert job.failure_reason == "processing failed 3 times; upload the file again"
    assert drops.dead_letters() == 0
    assert stored(drops, pid, [meter]) == {}
    # and the file is filed under failed/ with a feedback report saying why
    assert drops.key(pid, "poison.csv") not in drops.keys(pid)
    assert job.current_file_path == "/interval-data/failed/poison.csv/poison.csv"


# ----- bad input --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """A file (built for one meter), the status its job must end in, and the codes it must report."""

    name: str
    build: Callable[[str], bytes]
    status: UploadStatus
    codes: frozenset[str] = frozenset()
    stored_days: tuple[date, ...] = ()


def _quoted(meter: str) -> bytes:
    lines = [",".join(f'"{name}"' for name in HEADER.split(","))]
    lines += [",".join(f'"{value}"' for value in row) for row in rows([meter], [DAY], range(8))]
    return ("\n".join(lines) + "\n").encode()


def _offsets(meter: str) -> bytes:
    data = rows([meter], [date(2025, 11, 2)], range(4))
    for row in data:  # a local-time (EST, -05:00) export of the same instants
        for index in (1, 2):
            local = datetime.fromisoformat(row[index]).astimezone(UTC) - timedelta(hours=5)
            row[index] = local.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"
    return csv_file(data)


def _future(meter: str) -> bytes:
    return csv_file(rows([meter], [date(2099, 1, 1)], range(4)))


def _with_cell(meter: str, column: int, value: str) -> bytes:
    data = rows([meter], [DAY], range(4))
    data[2][column] = value
    return csv_file(data)


def _raw_line(meter: str, line: bytes) -> bytes:
    """Two valid rows, `line` (line 4), two valid rows."""
    before = csv_file(rows([meter], [DAY], range(2)))
    after = "".join(",".join(row) + "\n" for row in rows([meter], [DAY], range(3, 5))).encode()
    return before + line + b"\n" + after


def _bad_bytes(meter: str, region: bytes) -> bytes:
    """A file whose line 4 has `region` (raw bytes) as its region cell."""
    return _raw_line(meter, ",".join(cells(meter, DAY, 2)[:-1]).encode() + b"," + region)


BAD_INPUTS = [
    BadInput("empty", lambda m: b"", UploadStatus.FAILED, frozenset({"FIL_0001"})),
    BadInput("header-only", lambda m: (HEADER + "\n").encode(), UploadStatus.FAILED, frozenset({"FIL_0001"})),
    BadInput(
        "missing-columns",
        lambda m: csv_file([[r[0], r[3]] for r in rows([m], [DAY], range(4))], header="meter_id,energy_net_kwh"),
        UploadStatus.FAILED,
        frozenset({"STM_0001", "ETM_0001"}),
    ),
    BadInput(
        "unknown-columns",
        lambda m: csv_file([[*r, "x", "y"] for r in rows([m], [DAY], range(8))], header=HEADER + ",comment,site"),
        UploadStatus.COMPLETED,
        stored_days=(DAY,),
    ),
    BadInput(
        "utf8-bom",
        lambda m: codecs.BOM_UTF8 + csv_file(rows([m], [DAY], range(8))),
        UploadStatus.COMPLETED,
        stored_days=(DAY,),
    ),
    BadInput(
        "crlf",
        lambda m: csv_file(rows([m], [DAY], range(8)), newline="\r\n"),
        UploadStatus.COMPLETED,
        stored_days=(DAY,),
    ),
    BadInput("quoted-fields", _quoted, UploadStatus.COMPLETED, stored_days=(DAY,)),
    BadInput(
        "semicolon-delimited",
        lambda m: csv_file(rows([m], [DAY], range(4))).replace(b",", b";"),
        UploadStatus.FAILED,
        frozenset({"FIL_0004"}),
    ),
    BadInput("invalid-utf8", lambda m: _bad_bytes(m, b"M\xffA"), UploadStatus.FAILED, frozenset({"FIL_0002"})),
    BadInput("nul-byte", lambda m: _bad_bytes(m, b"M\x00A"), UploadStatus.FAILED, frozenset({"FIL_0002"})),
    BadInput(
        "100000-char-line",
        lambda m: _bad_bytes(m, b"MA" + b" " * 99_950),
        UploadStatus.FAILED,
        frozenset({"FIL_0003"}),
    ),
    BadInput(
        "gzip-named-csv",
        lambda m: gzip.compress(csv_file(rows([m], [DAY], range(8)))),
        UploadStatus.FAILED,
        frozenset({"FIL_0002"}),
    ),
    BadInput("non-utc-offsets", _offsets, UploadStatus.FAILED, frozenset({"STM_0002", "ETM_0002"})),
    BadInput(
        "dst-spring-forward-2025-03-09",
        lambda m: csv_file(rows([m], [date(2025, 3, 9)])),
        UploadStatus.COMPLETED,
        stored_days=(date(2025, 3, 9),),
    ),
    BadInput(
        "dst-fall-back-2025-11-02",
        lambda m: csv_file(rows([m], [date(2025, 11, 2)])),
        UploadStatus.COMPLETED,
        stored_days=(date(2025, 11, 2),),
    ),
    BadInput("future-intervals", _future, UploadStatus.FAILED, frozenset({"STM_0003", "ETM_0003"})),
    BadInput(
        "negative-consumption",
        lambda m: _with_cell(m, 4, "-0.500"),
        UploadStatus.FAILED,
        frozenset({"CON_0003"}),
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.name for case in BAD_INPUTS])
def test_each_bad_input_ends_in_a_documented_outcome_with_a_job_record(
    drops: IntervalDrops, partner: IssuedKey, meter: str, case: BadInput
) -> None:
    pid = partner.partner_id
    name = f"{case.name}.csv"
    body = case.build(meter)

    # When the file is dropped and the queue drained
    drops.put(pid, name, body)
    deliveries = drops.run_queue()

    # Then no delivery failed (no exception, nothing cycling to the DLQ), and one job says what happened
    assert deliveries and not any(d.failed for d in deliveries)
    assert drops.dead_letters() == 0
    job = only_job(drops, pid)
    assert job.status is case.status, job.error_summary
    assert codes(job) == set(case.codes)
    assert job.failure_reason is None

    # And the file is filed with its reports
    outcome = "accepted" if case.status is UploadStatus.COMPLETED else "failed"
    assert job.current_file_path == f"/interval-data/{outcome}/{name}/{name}"
    assert drops.read(object_key(pid, job.current_file_path)) == body
    feedback = json.loads(drops.read(object_key(pid, job.feedback_file_path)))
    assert feedback["status"] == case.status.value
    assert feedback["errors_total"] == job.errors_total

    if case.status is UploadStatus.FAILED:
        report = list(csv.reader(io.StringIO(drops.read(object_key(pid, job.error_csv_file_path)).decode())))
        assert report[0] == ["line", "column", "code", "message"]
        assert len(report) - 1 == job.errors_total > 0
        assert {line[2] for line in report[1:]} == set(case.codes)
        assert all(line[0].isdigit() and line[3] for line in report[1:])
        assert stored(drops, pid, [meter]) == {}
    else:
        assert job.errors_total == 0 and job.error_csv_file_path is None
        days = stored(drops, pid, [meter])
        assert sorted(day for _, day in days) == list(case.stored_days)
        assert job.rows_valid == sum(slots.count for slots in days.values())
    if case.name == "unknown-columns":
        assert feedback["ignored_columns"] == job.unknown_columns == ["comment", "site"]
    if case.name.startswith("dst-"):
        [slots] = stored(drops, pid, [meter]).values()
        assert slots.count == SLOTS_PER_DAY


def test_numbers_float_reads_but_the_grammar_refuses_fail_the_file_and_store_nothing(
    drops: IntervalDrops, partner: IssuedKey, meter: str
) -> None:
    pid = partner.partner_id
    # Given 8 valid rows, then energies Python's float() reads but that are no plain decimals, and one
    # consumption beyond the bound of a 15-minute interval
    data = rows([meter], [DAY], range(13))
    data[8][3] = "1e308"  # line 10
    data[9][4] = "NaN"  # line 11
    data[10][5] = "\u0661.\u0662"  # line 12: Arabic-Indic digits
    data[11][3] = "1_000"  # line 13
    data[12][3], data[12][4] = "", "2500000"  # line 14: 2,500 MWh in 15 minutes (Wh sent as kWh)
    body = csv_file(data)

    # When the file is dropped and the queue drained
    drops.put(pid, "numbers.csv", body)
    deliveries = drops.run_queue()

    # Then its job FAILED with each value's code on its line and column, and nothing is stored
    assert deliveries and not any(d.failed for d in deliveries)
    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    assert (job.rows_total, job.rows_valid, job.rows_invalid) == (13, 8, 5)
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [
        (10, "energy_net_kwh", "NET_0002"),
        (11, "energy_consumed_kwh", "CON_0002"),
        (12, "energy_generated_kwh", "GEN_0002"),
        (13, "energy_net_kwh", "NET_0002"),
        (14, "energy_consumed_kwh", "NRG_0004"),
    ]
    assert stored(drops, pid, [meter]) == {}

    # And the errors CSV says the same, the bound named in its message
    report = list(csv.reader(io.StringIO(drops.read(object_key(pid, job.error_csv_file_path)).decode())))
    assert [line[2] for line in report[1:]] == ["NET_0002", "CON_0002", "GEN_0002", "NET_0002", "NRG_0004"]
    assert "1,000,000 kWh" in report[-1][3]


# ----- tenant isolation and who supplies the data -----------------------------------------------------------


def test_a_file_naming_another_partners_meter_is_mtr_0003_and_stores_nothing_for_either(
    drops: IntervalDrops, partner: IssuedKey, other_partner: IssuedKey
) -> None:
    theirs = drops.meter(other_partner.partner_id)

    # Given partner A drops a file about partner B's meter
    drops.put(partner.partner_id, "theirs.csv", csv_file(rows([theirs], [DAY], range(4))))
    drops.run_queue()

    # Then A's job FAILED with MTR_0003 (the message does not reveal the meter exists) and nothing is stored
    job = only_job(drops, partner.partner_id)
    assert job.status is UploadStatus.FAILED
    assert codes(job) == {"MTR_0003"}
    assert all("not a known meter" in str(error["message"]) for error in job.errors)
    assert stored(drops, other_partner.partner_id, [theirs]) == {}
    assert stored(drops, partner.partner_id, [theirs]) == {}
    # and B sees no job and no file
    assert jobs(drops, other_partner.partner_id) == []
    assert drops.keys(other_partner.partner_id) == []


def test_meters_whose_data_comes_from_the_iso_or_the_utility_are_mtr_0004(
    drops: IntervalDrops, partner: IssuedKey
) -> None:
    pid = partner.partner_id
    iso = drops.meter(pid, region="ERCOT", meter_type="UTILITY_METER")
    nyiso = drops.meter(pid, region="NYISO", meter_type="UTILITY_METER")
    caiso = drops.meter(pid, region="CAISO", meter_type="UTILITY_METER")
    data = [[*cells(m, DAY, 0)[:-1], ""] for m in (iso, nyiso, caiso)]

    drops.put(pid, "utility.csv", csv_file(data))
    drops.run_queue()

    job = only_job(drops, pid)
    assert job.status is UploadStatus.FAILED
    assert [(e["line"], e["code"]) for e in job.errors] == [(2, "MTR_0004"), (3, "MTR_0004"), (4, "MTR_0004")]
    assert "the ISO" in str(job.errors[0]["message"]) and "the utility" in str(job.errors[1]["message"])
    assert stored(drops, pid, [iso, nyiso, caiso]) == {}
