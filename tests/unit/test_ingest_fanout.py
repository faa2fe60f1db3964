"""A large file ingested across invocations (intervals.use_cases.fanout) on the InMemory fakes: the ingest
function's `Ingestion` starts the fan-out for a file over the threshold, and the queued tasks are run as the
pieces function would run them, in any order, some twice, some killed halfway.

The reliability cases of issue 16: a piece killed halfway and retried; the same piece delivered twice; two pieces
finishing at the same moment (joined once); a file whose only error is in its last piece (nothing stored); a
duplicate row split across two pieces (found); the same file uploaded twice while the first is still running (one
stored state). Each ends in what one invocation ingesting the same file ends in.
"""

from __future__ import annotations

import random
import re
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import IO, Any

import pytest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.model import RowError
from meterhub.intervals.rules.piece_checks import PieceCheck
from meterhub.intervals.use_cases import errors_csv, fanout
from meterhub.intervals.use_cases.errors_csv import ErrorsCsvWriter
from meterhub.intervals.use_cases.fanout import BUCKET_BYTES, MAX_BUCKETS, WORK_PREFIX, FanOut, buckets_for
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.errors import StorageUnavailable
from meterhub.platform.work_queue import QueueSendError

from tests.fakes.intervals import InMemoryIntervalStore
from tests.fakes.objects import VersionedObjectStore
from tests.fakes.queues import InMemoryWorkQueue
from tests.unit.test_ingest_pipeline import (
    DAY,
    METER,
    METER_2,
    METER_3,
    PARTNER,
    Harness,
    data_line,
    load_file,
)

pytestmark = pytest.mark.usefixtures("no_network")

METERS = [METER, METER_2, METER_3]
DAYS = [DAY + timedelta(days=n) for n in range(4)]
PIECE_BYTES = 2_000
THRESHOLD = 10_000


@dataclass
class FanOutHarness:
    """Two harnesses: `fanned` ingests through the fan-out (files over THRESHOLD bytes), `single` in one
    invocation, for the expected outcome."""

    fanned: Harness = field(default_factory=Harness)
    single: Harness = field(default_factory=Harness)
    queue: InMemoryWorkQueue = field(default_factory=InMemoryWorkQueue)
    buckets: int = 3
    bucket_bytes: int = BUCKET_BYTES

    @property
    def fan_out(self) -> FanOut:
        return FanOut(
            self.fanned.ingestion,
            self.queue,
            piece_bytes=PIECE_BYTES,
            buckets=self.buckets,
            bucket_bytes=self.bucket_bytes,
        )

    @property
    def ingestion(self) -> Ingestion:
        return replace(self.fanned.ingestion, fan_out=self.fan_out.start, fan_out_bytes=THRESHOLD)

    def drop(self, name: str, body: bytes) -> UploadJob:
        key, version = self.fanned.drop(name, body)
        job = self.ingestion.ingest(key, version)
        assert job is not None and job.status is UploadStatus.PROCESSING
        return job

    def take(self) -> list[dict[str, Any]]:
        messages, self.queue.messages = list(self.queue.messages), []
        self.queue.delays.clear()
        return messages

    def run(self, order: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = list) -> int:
        """Run every queued task (and what they queue) until none is left; returns how many ran."""
        ran = 0
        while messages := self.take():
            for message in order(messages):
                self.fan_out.handle(message)
                ran += 1
        return ran

    def expected(self, name: str, body: bytes) -> UploadJob:
        return self.single.ingest(name, body)

    def job(self, job_id: str) -> UploadJob:
        job = self.fanned.uploads.get(PARTNER, job_id)
        assert job is not None
        return job


def comparable(job: UploadJob) -> dict[str, Any]:
    fields = ("status", "rows_total", "rows_valid", "rows_invalid", "days_written", "errors_total")
    return {name: getattr(job, name) for name in fields} | {"errors": job.errors, "summary": job.error_summary}


def big_file() -> bytes:
    return load_file(METERS, DAYS)


@pytest.fixture
def harness() -> FanOutHarness:
    return FanOutHarness()


def test_a_large_clean_file_is_stored_across_pieces_as_one_invocation_stores_it(harness: FanOutHarness) -> None:
    body = big_file()
    job = harness.drop("big.csv", body)
    checks = [m for m in harness.queue.messages if m["step"] == "check"]
    assert len(checks) >= len(body) // PIECE_BYTES > 10

    harness.run(order=lambda messages: random.Random(7).sample(messages, len(messages)))

    done = harness.job(job.job_id)
    assert comparable(done) == comparable(harness.expected("big.csv", body))
    assert done.status is UploadStatus.COMPLETED
    assert harness.fanned.stored() == harness.single.stored()
    assert done.current_file_path == "/interval-data/accepted/big.csv/big.csv"


def test_a_file_larger_than_its_buckets_hold_gets_more_buckets_and_the_same_outcome() -> None:
    # One bucket per 2 KB of file here (64 MiB deployed): a bucket's day records, what its group and merge tasks
    # hold, stay that share of the file whatever its size
    harness = FanOutHarness(bucket_bytes=2_000)
    body = big_file()
    job = harness.drop("big.csv", body)
    ran: list[dict[str, Any]] = []

    def seen(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ran.extend(messages)
        return messages

    harness.run(order=seen)
    groups = sorted(m["part"] for m in ran if m["step"] == "group")
    assert groups == list(range(-(-len(body) // 2_000))) and len(groups) > harness.buckets
    done = harness.job(job.job_id)
    assert comparable(done) == comparable(harness.expected("big.csv", body))
    assert harness.fanned.stored() == harness.single.stored()


def test_buckets_grow_with_the_file_past_the_configured_number_up_to_a_bound() -> None:
    assert buckets_for(10 * 2**20, 16) == 16  # a small file: the configured buckets
    assert buckets_for(16 * BUCKET_BYTES, 16) == 16
    assert buckets_for(16 * BUCKET_BYTES + 1, 16) == 17
    assert buckets_for(10 * 2**30, 16) == 160  # a 10 GB back-fill: a bucket per 64 MiB
    assert buckets_for(2**40, 16) == MAX_BUCKETS


def test_a_small_file_keeps_the_single_invocation_path(harness: FanOutHarness) -> None:
    key, version = harness.fanned.drop("small.csv", load_file([METER], [DAY], range(8)))
    job = harness.ingestion.ingest(key, version)
    assert job is not None and job.status is UploadStatus.COMPLETED
    assert harness.queue.messages == []


def test_a_duplicate_row_split_across_two_pieces_is_found_and_nothing_is_stored(harness: FanOutHarness) -> None:
    body = big_file() + (data_line(METER, DAYS[0], 1) + "\n").encode()  # the last line repeats line 3
    job = harness.drop("dup.csv", body)
    harness.run()

    done = harness.job(job.job_id)
    assert done.status is UploadStatus.FAILED
    assert comparable(done) == comparable(harness.expected("dup.csv", body))
    assert [(e["line"], e["code"]) for e in done.errors] == [(len(body.splitlines()), "DUP_0001")]
    assert harness.fanned.stored() == {}


def test_a_file_whose_only_error_is_in_its_last_piece_stores_nothing(harness: FanOutHarness) -> None:
    body = big_file() + (data_line(METER, DAYS[0], 1).replace(",MA", ",ZZ") + "\n").encode()
    job = harness.drop("last.csv", body)
    harness.run()

    done = harness.job(job.job_id)
    assert done.status is UploadStatus.FAILED
    assert comparable(done) == comparable(harness.expected("last.csv", body))
    assert harness.fanned.stored() == {}
    errors_csv = harness.fanned.read(done.error_csv_file_path or "")
    assert (
        errors_csv.decode().splitlines()[1:]
        == harness.single.read(harness.expected("last-again.csv", body).error_csv_file_path or "")
        .decode()
        .splitlines()[1:]
    )


def every_row_bad() -> bytes:
    """`big_file` with every row in a region its meter is not in: one error per row, more than the job keeps."""
    return big_file().replace(b",MA\n", b",ZZ\n")


def test_a_failing_file_of_many_pieces_gets_one_invocations_errors_csv_byte_for_byte_streamed(
    harness: FanOutHarness,
) -> None:
    # Given a file whose every row is bad, cut into dozens of pieces, with more errors than the job keeps
    body = every_row_bad()
    job = harness.drop("all-bad.csv", body)
    assert len(harness.queue.messages) > 50
    harness.run()

    # Then its errors CSV is the one-invocation CSV of the same file, byte for byte: every error, in file order
    done, expected = harness.job(job.job_id), harness.expected("all-bad.csv", body)
    assert done.status is UploadStatus.FAILED
    assert comparable(done) == comparable(expected)
    errors_csv = harness.fanned.read(done.error_csv_file_path or "")
    assert errors_csv == harness.single.read(expected.error_csv_file_path or "")
    rows = errors_csv.decode().splitlines()[1:]
    assert len(rows) == done.errors_total == len(body.splitlines()) - 1 > len(done.errors)
    assert [int(row.split(",")[0]) for row in rows] == list(range(2, len(body.splitlines()) + 1))

    # And both went to the bucket through the streamed put, never as one bytes object
    errors_key = f"partners/{PARTNER}{done.error_csv_file_path}"
    assert harness.fanned.objects.streamed == [errors_key]
    assert harness.single.objects.streamed == [f"partners/{PARTNER}{expected.error_csv_file_path}"]


def test_the_settle_step_holds_one_piece_summary_at_a_time_and_writes_its_errors_as_the_upload_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given every piece summary the settle step builds watched (alive or not), and every read of a summary, the
    # start of the errors CSV's upload and every row written to a CSV noted in order
    built: list[weakref.ref[PieceCheck]] = []

    def alive() -> int:
        return sum(1 for summary in built if summary() is not None)

    events: list[tuple[str, int, int]] = []
    summary_of = fanout._summary

    def watched(index: int, record: dict[str, Any]) -> PieceCheck:
        check = summary_of(index, record)
        built.append(weakref.ref(check))
        return check

    row_of = ErrorsCsvWriter.write

    def noted_row(writer: ErrorsCsvWriter, error: RowError) -> None:
        events.append(("csv", error.line, alive()))
        row_of(writer, error)

    class NotedReads(VersionedObjectStore):
        def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
            match = re.fullmatch(r".*/check-(\d+)\.json", key)
            if match:
                events.append(("read", int(match[1]), alive()))
            yield from super().chunks(key, version)

        def put_file(
            self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None
        ) -> None:
            events.append(("upload", 0, alive()))
            super().put_file(key, body, content_type, metadata)

    monkeypatch.setattr(fanout, "_summary", watched)
    monkeypatch.setattr(ErrorsCsvWriter, "write", noted_row)
    harness = FanOutHarness(fanned=Harness(objects=NotedReads()))
    body = every_row_bad()
    job = harness.drop("all-bad.csv", body)
    pieces = len(harness.queue.messages)

    # When its pieces are checked and joined
    harness.run()
    assert harness.job(job.job_id).status is UploadStatus.FAILED

    # Then the report was assembled from the summaries read in file order, with no CSV written
    kinds = [kind for kind, _, _ in events]
    upload = kinds.index("upload")
    assert [index for kind, index, _ in events[:upload]] == list(range(pieces))
    assert set(kinds[:upload]) == {"read"}
    # And only once the upload had started were they read again in file order, each piece's rows generated
    # (its summary the only one alive) before the next summary was read
    after = events[upload + 1 :]
    assert [index for kind, index, _ in after if kind == "read"] == list(range(pieces))
    assert all(count == 0 for kind, _, count in events if kind == "read")
    assert all(count == 1 for kind, _, count in events if kind == "csv")
    assert after[0][0] == "read" and all(
        after[at - 1][0] == "csv" for at, (kind, _, _) in enumerate(after) if kind == "read" and at
    )
    assert [line for kind, line, _ in after if kind == "csv"] == list(range(2, len(body.splitlines()) + 1))


class SmallReads(VersionedObjectStore):
    """A bucket whose streamed put reads its body in small parts, noting the largest any read returned; it
    fails (`fail_after` bytes in, once) as an upload dying midway would, storing nothing."""

    def __init__(self, read_bytes: int, fail_after: int | None = None) -> None:
        super().__init__()
        self.read_bytes = read_bytes
        self.fail_after = fail_after
        self.largest_read = 0

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        parts: list[bytes] = []
        read = 0
        while part := body.read(self.read_bytes):
            self.largest_read = max(self.largest_read, len(part))
            parts.append(part)
            read += len(part)
            if self.fail_after is not None and read > self.fail_after:
                self.fail_after = None
                raise StorageUnavailable("the upload died midway")
        self.put(key, b"".join(parts), content_type, metadata)
        self.streamed.append(key)


def test_the_settle_writes_no_temporary_file_and_generates_its_errors_csv_a_small_chunk_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no temporary file can be made (the one-invocation path's spooled CSV among them), the stream's chunk
    # made small, and every chunk the settle's CSV stream generates noted
    def no_disk(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary file was made")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    monkeypatch.setattr(errors_csv, "STREAM_CHUNK_BYTES", 4096)
    chunks: list[int] = []
    chunks_of = errors_csv.errors_csv_chunks

    def noted(errors: Iterable[RowError]) -> Iterator[bytes]:
        for chunk in chunks_of(errors):
            chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(errors_csv, "errors_csv_chunks", noted)
    harness = FanOutHarness(fanned=Harness(objects=SmallReads(read_bytes=1000)))
    body = every_row_bad()

    # When a file whose every row is bad is fanned out and settled
    job = harness.drop("all-bad.csv", body)
    harness.run()

    # Then its errors CSV is complete: all of it went through the stream, in chunks of about 4 KiB (a chunk and
    # the row that crossed it), each handed to the upload in reads no larger than it asked for
    done = harness.job(job.job_id)
    assert done.status is UploadStatus.FAILED
    errors_csv_body = harness.fanned.read(done.error_csv_file_path or "")
    assert len(errors_csv_body.decode().splitlines()) == len(body.splitlines())
    assert sum(chunks) == len(errors_csv_body) > 20 * 4096
    assert max(chunks) < 4096 + 200
    assert harness.fanned.objects.largest_read == 1000  # type: ignore[attr-defined]
    monkeypatch.undo()
    assert errors_csv_body == harness.single.read(harness.expected("all-bad.csv", body).error_csv_file_path or "")


def test_an_upload_of_the_errors_csv_dying_midway_leaves_no_report_and_its_redelivery_files_it_whole() -> None:
    # Given a bucket whose first streamed put dies 20,000 bytes into the errors CSV
    harness = FanOutHarness(fanned=Harness(objects=SmallReads(read_bytes=4096, fail_after=20_000)))
    body = every_row_bad()
    job = harness.drop("all-bad.csv", body)
    for message in harness.take():
        harness.fan_out.handle(message)
    groups = harness.take()
    for message in groups[:-1]:
        harness.fan_out.handle(message)

    # When the last group settles the file, the upload fails: the task raises (SQS will deliver it again)
    with pytest.raises(StorageUnavailable):
        harness.fan_out.handle(groups[-1])

    # Then no errors CSV was stored and the job is not over
    assert not any(key.endswith(".errors.csv") for key in harness.fanned.objects.objects)
    assert harness.job(job.job_id).status is UploadStatus.PROCESSING

    # And when the task is delivered again, the same stream is generated again and filed whole
    harness.fan_out.handle(groups[-1])
    done = harness.job(job.job_id)
    assert done.status is UploadStatus.FAILED
    expected = harness.expected("all-bad.csv", body)
    assert comparable(done) == comparable(expected)
    assert harness.fanned.read(done.error_csv_file_path or "") == harness.single.read(
        expected.error_csv_file_path or ""
    )


class NotedWork(VersionedObjectStore):
    """Notes each staged record read, by name, with the task (step, part) that read it."""

    def __init__(self) -> None:
        super().__init__()
        self.task: tuple[str, int] = ("", -1)
        self.reads: list[tuple[str, int, str]] = []

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if key.startswith(f"{WORK_PREFIX}/"):
            self.reads.append((*self.task, key.rsplit("/", 1)[1]))
        yield from super().chunks(key, version)


def run_noted(harness: FanOutHarness, store: NotedWork) -> None:
    while messages := harness.take():
        for message in messages:
            store.task = (message["step"], message["part"])
            harness.fan_out.handle(message)


def test_a_recheck_reads_its_own_seed_not_the_buckets_day_records_or_other_pieces_seeds() -> None:
    store = NotedWork()
    harness = FanOutHarness(fanned=Harness(objects=store))
    body = big_file() + (data_line(METER, DAYS[0], 1) + "\n").encode()  # a duplicate across pieces: a recheck
    job = harness.drop("dup.csv", body)
    run_noted(harness, store)
    assert comparable(harness.job(job.job_id)) == comparable(harness.expected("dup.csv", body))

    rechecks = {(part, name) for step, part, name in store.reads if step == "recheck"}
    assert rechecks, "the duplicate was not rechecked"
    names = {name for _, name in rechecks}
    assert not any(name.startswith("group-") for name in names)
    assert all(name.startswith(f"seed-{part}-") for part, name in rechecks if name.startswith("seed-"))


def test_a_merge_reads_its_own_buckets_day_records_and_its_join_no_others() -> None:
    store = NotedWork()
    harness = FanOutHarness(fanned=Harness(objects=store))
    body = big_file()
    job = harness.drop("clean.csv", body)
    run_noted(harness, store)
    done = harness.job(job.job_id)
    assert comparable(done) == comparable(harness.expected("clean.csv", body))
    assert done.days_written == len(harness.single.stored()) > 0

    merges = [(part, name) for step, part, name in store.reads if step == "merge"]
    assert {(part, name) for part, name in merges if name.startswith("group-")} == {
        (bucket, f"group-{bucket}.json") for bucket in range(harness.buckets)
    }


def test_the_same_piece_delivered_twice_is_joined_once_and_stores_once(harness: FanOutHarness) -> None:
    body = big_file()
    job = harness.drop("twice.csv", body)
    checks = harness.take()
    # every check delivered twice, the second deliveries after the step is complete
    for message in checks + checks:
        harness.fan_out.handle(message)
    groups = harness.take()
    assert sorted(m["part"] for m in groups) == list(range(harness.buckets))  # joined once
    for message in groups:
        harness.queue.send(message)
    harness.run()

    done = harness.job(job.job_id)
    assert comparable(done) == comparable(harness.expected("twice.csv", body))
    assert harness.fanned.stored() == harness.single.stored()
    assert harness.fanned.uploads.completions(job.job_id) == 1


def test_two_pieces_finishing_at_the_same_moment_queue_the_next_step_once(harness: FanOutHarness) -> None:
    body = big_file()
    harness.drop("together.csv", body)
    checks = harness.take()
    for message in checks[:-2]:
        harness.fan_out.handle(message)
    assert harness.queue.messages == []
    # the last two pieces record themselves done one after the other, as two invocations at the same moment
    for message in checks[-2:]:
        harness.fan_out.handle(message)
    assert [m["step"] for m in harness.queue.messages] == ["group"] * harness.buckets


class KilledOnce(InMemoryIntervalStore):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after: int | None = after

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: Any) -> None:
        if self.after is not None:
            if self.after == 0:
                self.after = None
                raise StorageUnavailable("the invocation died")
            self.after -= 1
        super().merge(partner_id, meter_id, day, incoming)


def test_a_piece_killed_halfway_and_retried_ends_in_the_state_of_one_clean_run() -> None:
    harness = FanOutHarness(fanned=Harness(intervals=KilledOnce(after=2)))
    body = big_file()
    job = harness.drop("killed.csv", body)
    failed = 0
    while messages := harness.take():
        for message in messages:
            try:
                harness.fan_out.handle(message)
            except StorageUnavailable:
                failed += 1
                harness.queue.send(message)  # SQS makes it visible again
    assert failed == 1

    done = harness.job(job.job_id)
    assert comparable(done) == comparable(harness.expected("killed.csv", body))
    assert harness.fanned.stored() == harness.single.stored()


def test_the_same_file_uploaded_twice_while_the_first_runs_ends_in_one_stored_state(harness: FanOutHarness) -> None:
    body = big_file()
    first = harness.drop("same.csv", body)
    first_tasks = harness.take()
    second = harness.drop("same.csv", body)  # a new version of the same name: a second job
    assert second.job_id != first.job_id
    for message in first_tasks[:3]:
        harness.fan_out.handle(message)
    harness.run()
    for message in first_tasks[3:]:
        harness.fan_out.handle(message)
    harness.run()

    assert harness.job(first.job_id).status is harness.job(second.job_id).status is UploadStatus.COMPLETED
    harness.expected("same.csv", body)
    assert harness.fanned.stored() == harness.single.stored()


def test_a_finished_jobs_tasks_do_nothing(harness: FanOutHarness) -> None:
    job = harness.drop("done.csv", big_file())
    tasks = harness.take()
    for message in tasks:
        harness.queue.send(message)
    harness.run()
    stored = dict(harness.fanned.stored())
    for message in tasks:
        harness.fan_out.handle(message)
    assert harness.queue.messages == []
    assert harness.job(job.job_id).status is UploadStatus.COMPLETED
    assert harness.fanned.stored() == stored


class FailingOnce(InMemoryWorkQueue):
    """Refuses the first batch of `step` tasks (the invocation dies between recording its part and queueing)."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step: str | None = step

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        if self.step is not None and messages and messages[0][0]["step"] == self.step:
            self.step = None
            raise QueueSendError("the invocation died before queueing")
        super().send_all(messages)


def test_a_join_interrupted_after_its_last_part_was_recorded_runs_on_the_redelivery() -> None:
    harness = FanOutHarness(queue=FailingOnce("group"))
    body = big_file()
    job = harness.drop("join.csv", body)
    checks = harness.take()
    for message in checks[:-1]:
        harness.fan_out.handle(message)
    with pytest.raises(QueueSendError):
        harness.fan_out.handle(checks[-1])  # recorded done, then died: no group queued
    assert harness.queue.messages == []

    harness.fan_out.handle(checks[-1])  # SQS delivers it again
    assert [m["step"] for m in harness.queue.messages] == ["group"] * harness.buckets
    harness.run()
    assert comparable(harness.job(job.job_id)) == comparable(harness.expected("join.csv", body))
