"""A large interval file fanned out on moto: the drop's S3 event through functions/interval_ingest/app.py (with
INTERVAL_FAN_OUT_BYTES lowered so a file of a few kilobytes is "large"), then every IntervalPiecesQueue message
through functions/interval_pieces/app.py as Lambda's SQS event source would deliver it, until the queue is empty.

Covers the fan-out end to end on the real adapters (ranged S3 reads, staged JSON, the DynamoDB join items, the
work queue): a clean file stored as one invocation stores it, a duplicate split across pieces, a step failing
on every attempt ending its job FAILED (nothing on the dead-letter queue), and a failed file's errors CSV larger
than a multipart part streamed to the bucket whole (an upload dying midway leaves nothing; ~15 s: the file must
be some 10 MB for its CSV to pass one 8 MiB part).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from meterhub.intervals.records import UploadStatus
from meterhub.intervals.rules.model import RowError
from meterhub.intervals.rules.pieces import Piece, plan
from meterhub.intervals.use_cases import errors_csv
from meterhub.intervals.use_cases.fanout import FanOut, work_key
from meterhub.platform.adapters.s3_object_store import MULTIPART_BYTES
from meterhub.platform.settings import forget_loaded_settings
from meterhub_dev.local import moto_fidelity

from tests.conftest import FakeLambdaContext, load_function_module, receive_all, sqs_event
from tests.integration.test_interval_ingest import (
    DAY,
    THROTTLED_DAYS,
    IntervalDrops,
    csv_file,
    expected,
    jobs,
    object_key,
    only_job,
    rows,
    stored,
)
from tests.integration.test_interval_uploads_api import JOBS, InvokeUploads

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

pytestmark = pytest.mark.pristine_aws

PIECE_BYTES = 3_000


class Pieces:
    def __init__(self, drops: IntervalDrops) -> None:
        self.drops = drops
        self.module = load_function_module("functions/interval_pieces/app.py")
        self.sqs = drops.sqs  # type: ignore[attr-defined]
        self.url = self.sqs.get_queue_url(QueueName="IntervalPiecesQueue")["QueueUrl"]
        self.dead_url = self.sqs.get_queue_url(QueueName="IntervalPiecesDeadLetterQueue")["QueueUrl"]

    def run(self, max_rounds: int = 40) -> list[tuple[dict[str, Any], int, bool]]:
        """Deliver every task until the queue is empty; a failed one comes back at once (receive count up) until
        the redrive policy takes it. Returns (message, receive count, failed) per delivery."""
        deliveries: list[tuple[dict[str, Any], int, bool]] = []
        for _ in range(max_rounds):
            messages = receive_all(self.sqs, self.url)
            if not messages:
                return deliveries
            for message in messages:
                context = FakeLambdaContext(aws_request_id=str(uuid.uuid4()))
                result = self.module.lambda_handler(sqs_event([message], "IntervalPiecesQueue"), context)
                failed = bool(result.get("batchItemFailures"))
                count = int(message["Attributes"]["ApproximateReceiveCount"])
                deliveries.append((message, count, failed))
                if failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError("IntervalPiecesQueue was not empty")

    def dead_letters(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dead_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def pieces(interval_drops: IntervalDrops, monkeypatch: pytest.MonkeyPatch) -> Pieces:
    interval_drops.delete(interval_drops.receive())  # the S3 test event
    monkeypatch.setenv("INTERVAL_FAN_OUT_BYTES", "5000")
    monkeypatch.setenv("INTERVAL_PIECE_BYTES", str(PIECE_BYTES))
    monkeypatch.setenv("INTERVAL_FAN_OUT_BUCKETS", "3")
    forget_loaded_settings()
    return Pieces(interval_drops)


def ingest(pieces: Pieces, partner_id: str, name: str, body: bytes) -> None:
    drops = pieces.drops
    drops.put(partner_id, name, body)
    deliveries = drops.run_queue()
    assert not any(d.failed for d in deliveries)
    assert only_job(drops, partner_id).status is UploadStatus.PROCESSING  # handed on to the pieces


def test_a_large_clean_file_is_checked_in_pieces_and_stored_as_one_invocation_stores_it(
    pieces: Pieces, partner: IssuedKey
) -> None:
    pid = partner.partner_id
    meters = [pieces.drops.meter(pid) for _ in range(3)]
    data = rows(meters, THROTTLED_DAYS)
    body = csv_file(data)
    assert len(body) > 10 * PIECE_BYTES

    ingest(pieces, pid, "large.csv", body)
    deliveries = pieces.run()

    steps = [json.loads(message["Body"])["step"] for message, _, _ in deliveries]
    assert steps.count("check") >= 10 and steps.count("group") == steps.count("merge") == 3
    job = only_job(pieces.drops, pid)
    assert job.status is UploadStatus.COMPLETED, job.failure_reason
    assert (job.rows_total, job.rows_valid, job.days_written) == (len(data), len(data), len(meters) * 3)
    assert stored(pieces.drops, pid, meters) == expected(data)
    assert job.current_file_path == "/interval-data/accepted/large.csv/large.csv"
    assert not any("/interval-work/" in key for key in pieces.drops.keys(pid))  # staged outside the partner's tree
    staged = pieces.drops.s3.list_objects_v2(Bucket=pieces.drops.bucket, Prefix=work_key(pid, job.job_id, ""))  # type: ignore[attr-defined]
    assert "plan.json" in {item["Key"].rsplit("/", 1)[1] for item in staged["Contents"]}


def test_a_duplicate_split_across_pieces_fails_the_file_on_its_line_and_stores_nothing(
    pieces: Pieces, partner: IssuedKey
) -> None:
    pid = partner.partner_id
    meters = [pieces.drops.meter(pid) for _ in range(3)]
    data = rows(meters, THROTTLED_DAYS)
    data.append(list(data[0]))  # the last line repeats the first data line (line 2)

    ingest(pieces, pid, "dup.csv", csv_file(data))
    pieces.run()

    job = only_job(pieces.drops, pid)
    assert job.status is UploadStatus.FAILED
    assert [(e["line"], e["code"]) for e in job.errors] == [(len(data) + 1, "DUP_0001")]
    assert (job.rows_valid, job.rows_invalid) == (len(data) - 1, 1)
    assert stored(pieces.drops, pid, meters) == {}
    assert job.error_csv_file_path is not None


def test_a_step_failing_on_every_attempt_ends_the_job_failed_and_nothing_is_dead_lettered(
    pieces: Pieces, partner: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = partner.partner_id
    meter = pieces.drops.meter(pid)
    original: Callable[[FanOut, dict[str, Any]], None] = FanOut.handle

    def poison(self: FanOut, task: dict[str, Any]) -> None:
        if task["step"] == "group" and task["part"] == 1:
            raise RuntimeError("this bucket cannot be grouped")
        original(self, task)

    monkeypatch.setattr(FanOut, "handle", poison)
    ingest(pieces, pid, "poison.csv", csv_file(rows([meter], [DAY, *THROTTLED_DAYS])))
    deliveries = pieces.run()

    tasks = [(json.loads(message["Body"]), count, failed) for message, count, failed in deliveries]
    failing = [(count, failed) for task, count, failed in tasks if (task["step"], task["part"]) == ("group", 1)]
    assert failing == [(1, True), (2, True), (3, False)]
    job = only_job(pieces.drops, pid)
    assert job.status is UploadStatus.FAILED
    assert job.failure_reason == "part of the file failed 3 times; upload the file again"
    assert stored(pieces.drops, pid, [meter]) == {}
    assert pieces.dead_letters() == 0


def _rows_in(body: bytes, pieces: list[Piece]) -> int:
    """The data lines whose first byte falls in one of `pieces` (a line belongs to the piece it starts in)."""
    starts = [0] + [offset + 1 for offset, byte in enumerate(body) if byte == ord("\n") and offset + 1 < len(body)]
    return sum(1 for start in starts[1:] if any(piece.start <= start < piece.end for piece in pieces))


def test_the_job_shows_rows_and_pieces_checked_so_far_and_a_piece_delivered_twice_counts_once(
    pieces: Pieces, partner: IssuedKey, invoke_uploads: InvokeUploads
) -> None:
    pid = partner.partner_id
    meters = [pieces.drops.meter(pid) for _ in range(3)]
    data = rows(meters, THROTTLED_DAYS)
    data[5][3] = "not a number"  # one invalid row: the invalid counter moves too
    body = csv_file(data)
    planned = plan(len(body), body[: body.index(b"\n") + 1], PIECE_BYTES)
    ingest(pieces, pid, "progress.csv", body)
    job_id = only_job(pieces.drops, pid).job_id

    def polled() -> dict[str, Any]:
        response = invoke_uploads("GET", f"{JOBS}/{job_id}")
        assert response.status == 200, response.text
        answer: dict[str, Any] = response.json
        return answer

    before = polled()
    assert (before["status"], before["pieces_total"], before["pieces_checked"]) == ("PROCESSING", len(planned), 0)
    assert (before["rows_total"], before["rows_valid"], before["rows_invalid"]) == (0, 0, 0)

    checks = receive_all(pieces.sqs, pieces.url)
    assert sorted(json.loads(m["Body"])["part"] for m in checks) == list(range(len(planned)))
    half = sorted(checks, key=lambda m: int(json.loads(m["Body"])["part"]))[: len(planned) // 2]
    for message in [*half, half[0]]:  # the first piece delivered twice (SQS at least once)
        context = FakeLambdaContext(aws_request_id=str(uuid.uuid4()))
        result = pieces.module.lambda_handler(sqs_event([message], "IntervalPiecesQueue"), context)
        assert not result.get("batchItemFailures")
    checked_rows = _rows_in(body, planned[: len(half)])

    during = polled()
    assert (during["status"], during["pieces_checked"]) == ("PROCESSING", len(half))
    assert (during["rows_total"], during["rows_valid"], during["rows_invalid"]) == (checked_rows, checked_rows - 1, 1)
    listed = invoke_uploads("GET", JOBS).json["uploads"]
    assert [(u["rows_total"], u["rows_invalid"]) for u in listed] == [(checked_rows, 1)]

    for message in checks:  # release the rest (and the half already run: a redelivery changes nothing)
        pieces.sqs.change_message_visibility(
            QueueUrl=pieces.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    pieces.run()
    after = polled()
    assert (after["status"], after["pieces_checked"], after["pieces_total"]) == ("FAILED", len(planned), len(planned))
    assert (after["rows_total"], after["rows_valid"], after["rows_invalid"]) == (len(data), len(data) - 1, 1)


def test_one_partners_tasks_run_at_most_its_bound_at_once_while_another_partners_task_still_runs(
    pieces: Pieces, partner: IssuedKey, other_partner: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 2
    monkeypatch.setenv("INTERVAL_PARTNER_WORKERS", str(bound))
    monkeypatch.setenv("INTERVAL_FILE_WORKERS", str(bound))  # one file: the partner's bound is the one that binds
    monkeypatch.setenv("INTERVAL_PARTNER_WAIT_SECONDS", "0")  # a waiting task is visible again at once
    forget_loaded_settings()
    busy, other = partner.partner_id, other_partner.partner_id
    files = {pid: rows([pieces.drops.meter(pid) for _ in range(3)], THROTTLED_DAYS) for pid in (busy, other)}
    for pid, data in files.items():
        ingest(pieces, pid, "backfill.csv", csv_file(data))

    original: Callable[[FanOut, dict[str, Any]], None] = FanOut.handle
    lock, held = threading.Lock(), threading.Event()
    running: dict[str, int] = {busy: 0, other: 0}
    most: dict[str, int] = {busy: 0, other: 0}
    busy_while_other_ran: list[int] = []

    def gated(self: FanOut, task: dict[str, Any]) -> None:
        pid = task["partner_id"]
        with lock:
            running[pid] += 1
            most[pid] = max(most[pid], running[pid])
            if pid == other:
                busy_while_other_ran.append(running[busy])
        try:
            if pid == busy:
                assert held.wait(timeout=60)  # the busy partner's tasks stay running until released
            original(self, task)
        finally:
            with lock:
                running[pid] -= 1

    monkeypatch.setattr(FanOut, "handle", gated)
    messages = receive_all(pieces.sqs, pieces.url)
    by_partner = {pid: [m for m in messages if json.loads(m["Body"])["partner_id"] == pid] for pid in (busy, other)}
    assert len(by_partner[busy]) >= 10

    def deliver(message: dict[str, Any]) -> None:
        # One Lambda invocation per thread: the record handler itself (the module's BatchProcessor is one per
        # process, as in Lambda, so threads cannot share lambda_handler).
        context = FakeLambdaContext(aws_request_id=str(uuid.uuid4()))
        pieces.module.record_handler(SQSRecord(sqs_event([message], "IntervalPiecesQueue")["Records"][0]), context)

    with moto_fidelity.installed():  # DynamoDB's conditional writes are atomic across threads
        workers = [threading.Thread(target=deliver, args=(m,)) for m in by_partner[busy]]
        for worker in workers:
            worker.start()
        for _ in range(600):
            if sum(w.is_alive() for w in workers) == bound:
                break
            threading.Event().wait(0.05)
        assert sum(w.is_alive() for w in workers) == bound  # the others found no slot and returned
        assert running[busy] == bound
        deliver(by_partner[other][0])  # the other partner's piece runs meanwhile
        held.set()
        for worker in workers:
            worker.join()

    assert most[busy] == bound
    assert busy_while_other_ran == [bound]
    requeued = receive_all(pieces.sqs, pieces.url)  # the waiting tasks came back as fresh copies: none dropped
    waited = sorted(json.loads(m["Body"])["part"] for m in requeued if json.loads(m["Body"])["partner_id"] == busy)
    assert len(waited) == len(by_partner[busy]) - bound
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) == 1 for m in requeued)

    for message in [*by_partner[busy], by_partner[other][0]]:  # delivered and handled: acknowledged
        pieces.sqs.delete_message(QueueUrl=pieces.url, ReceiptHandle=message["ReceiptHandle"])
    for message in [*by_partner[other][1:], *requeued]:  # the tasks still to run: the queue delivers them
        pieces.sqs.change_message_visibility(
            QueueUrl=pieces.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    pieces.run()
    for pid, data in files.items():
        job = only_job(pieces.drops, pid)
        assert (job.status, job.rows_valid) == (UploadStatus.COMPLETED, len(data)), job.failure_reason


def test_a_failed_files_errors_csv_larger_than_an_upload_part_survives_an_upload_dying_midway_and_arrives_whole(
    pieces: Pieces, partner: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of some 10 MB whose every row is bad (meters the partner does not have), in five pieces: its
    # errors CSV is larger than one multipart part, and the first upload of it dies once its first part is sent
    # and a MiB of the second read
    pid = partner.partner_id
    unknown = [str(uuid.uuid4()) for _ in range(40)]
    body = csv_file(rows(unknown, [DAY + timedelta(days=n) for n in range(28)]))
    monkeypatch.setenv("INTERVAL_PIECE_BYTES", str(len(body) // 5 + 1))
    forget_loaded_settings()
    chunks_of = errors_csv.errors_csv_chunks
    attempts: list[dict[str, Any]] = []

    def dying_once(errors: Iterable[RowError]) -> Iterator[bytes]:
        attempts.append(
            {
                "errors_csv": [key for key in pieces.drops.keys(pid) if key.endswith(".errors.csv")],
                "uploads": pieces.drops.s3.list_multipart_uploads(Bucket=pieces.drops.bucket).get("Uploads", []),  # type: ignore[attr-defined]
                "status": only_job(pieces.drops, pid).status,
            }
        )
        sent = 0
        for chunk in chunks_of(errors):
            if len(attempts) == 1 and sent > MULTIPART_BYTES + 2**20:
                raise ConnectionError("the function lost its connection midway")
            sent += len(chunk)
            yield chunk

    monkeypatch.setattr(errors_csv, "errors_csv_chunks", dying_once)

    # When it is fanned out and its tasks run, each failed one delivered again
    ingest(pieces, pid, "all-bad.csv", body)
    deliveries = pieces.run()

    # Then the settling task failed once, leaving no errors CSV, no unfinished upload and the job running, and
    # its redelivery filed the report
    assert [(count, failed) for _, count, failed in deliveries if failed] == [(1, True)]
    assert len(attempts) == 2
    assert attempts[1] == {"errors_csv": [], "uploads": [], "status": UploadStatus.PROCESSING}
    fanned = only_job(pieces.drops, pid)
    assert fanned.status is UploadStatus.FAILED
    errors_csv_body = pieces.drops.read(object_key(pid, fanned.error_csv_file_path))
    assert len(errors_csv_body) > MULTIPART_BYTES
    assert fanned.errors_total == len(body.splitlines()) - 1 == len(errors_csv_body.splitlines()) - 1

    # And the report is, byte for byte, the one the same file ingested in one invocation gets
    monkeypatch.setenv("INTERVAL_FAN_OUT_BYTES", "0")
    forget_loaded_settings()
    pieces.drops.put(pid, "all-bad-again.csv", body)
    assert not any(d.failed for d in pieces.drops.run_queue())
    single = next(job for job in jobs(pieces.drops, pid) if job.job_id != fanned.job_id)
    assert single.status is UploadStatus.FAILED and not single.pieces_total
    assert pieces.drops.read(object_key(pid, single.error_csv_file_path)) == errors_csv_body
