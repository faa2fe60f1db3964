"""functions/meter_job_worker/app.py on moto, fed the real SQS message: redelivery, a worker killed halfway,
the last attempt ending a broken job, continuations, and the DynamoDB cost per asset."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import pytest
from meterhub.meter_jobs.adapters.dynamodb import DynamoJobRepository
from meterhub.meter_jobs.records import AssetOutcome, MeterJob
from meterhub.meter_jobs.use_cases import worker as worker_module
from meterhub.meter_jobs.use_cases.worker import meter_id_for
from meterhub.platform.adapters import clients

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

MakeAsset = Callable[..., dict[str, Any]]
JOBS = "/v1.1/jobs/meters"


class Result(Protocol):
    status: int
    text: str

    @property
    def json(self) -> Any: ...


InvokeJobs = Callable[..., Result]


class JobWorker(Protocol):
    """tests/conftest.py JobWorker."""

    module: Any
    queue_url: str

    def receive(self) -> list[dict[str, Any]]: ...

    def event(self, messages: list[dict[str, Any]], receive_count: int | None = None) -> dict[str, Any]: ...

    def handle(self, event: dict[str, Any], remaining_ms: int = 110_000) -> dict[str, Any]: ...

    def delete(self, messages: list[dict[str, Any]]) -> None: ...

    def run_queue(self, max_rounds: int = 20) -> int: ...


def submit(invoke_jobs: InvokeJobs, assets: list[dict[str, Any]], **query: str) -> str:
    response = invoke_jobs("POST", JOBS, {"assets": assets}, query=query or None)
    assert response.status == 201, response.text
    return str(response.json["job_id"])


def read_job(invoke_jobs: InvokeJobs, job_id: str) -> Any:
    response = invoke_jobs("GET", f"{JOBS}/{job_id}")
    assert response.status == 200, response.text
    return response.json


def counters(job: Any) -> tuple[str, int, int, int, int]:
    return (
        job["status"],
        job["assets_count"],
        job["assets_created_count"],
        job["assets_updated_count"],
        job["assets_failed_count"],
    )


def meter_ids(aws: DynamoDBClient, partner_id: str) -> list[str]:
    """Every meter item of the partner, straight from the table."""
    response = aws.query(
        TableName=os.environ["METERS_TABLE_NAME"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :meter)",
        ExpressionAttributeValues={":pk": {"S": f"PARTNER#{partner_id}"}, ":meter": {"S": "METER#"}},
        ConsistentRead=True,
    )
    return sorted(item["sk"]["S"].removeprefix("METER#") for item in response.get("Items", []))


def acknowledged(job_worker: JobWorker, message: dict[str, Any], receive_count: int) -> bool:
    """Deliver one message; False when the attempt failed (a raised invocation or a reported item failure:
    either way Lambda leaves the message on the queue for a retry)."""
    try:
        result = job_worker.handle(job_worker.event([message], receive_count=receive_count))
    except Exception:
        return False
    failures = result["batchItemFailures"]
    assert failures in ([], [{"itemIdentifier": message["MessageId"]}]), failures
    return not failures


def only_message(job_worker: JobWorker) -> dict[str, Any]:
    (message,) = job_worker.receive()
    return message


def test_the_queued_message_completes_the_job(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given a submitted job and its message
    job_id = submit(invoke_jobs, [make_asset("w-1"), make_asset("w-2", customer={"postal_code": "x"})])
    message = only_message(job_worker)
    # When the worker receives it
    result = job_worker.handle(job_worker.event([message], receive_count=1))
    # Then no batch item failed and the job is finished
    assert result == {"batchItemFailures": []}
    assert counters(read_job(invoke_jobs, job_id)) == ("COMPLETED_WITH_ERRORS", 2, 1, 0, 1)


def test_the_same_message_delivered_twice_creates_no_duplicates(
    aws: DynamoDBClient, invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey, make_asset: MakeAsset
) -> None:
    # Given a processed 4-asset job
    job_id = submit(invoke_jobs, [make_asset(f"twice-{n}") for n in range(4)])
    message = only_message(job_worker)
    assert job_worker.handle(job_worker.event([message], receive_count=1)) == {"batchItemFailures": []}
    first = read_job(invoke_jobs, job_id)
    # When SQS delivers the same message again (at-least-once delivery)
    second_result = job_worker.handle(job_worker.event([message], receive_count=2))
    # Then it succeeds, and nothing changed: no new meter, same counters, same assets
    assert second_result == {"batchItemFailures": []}
    again = read_job(invoke_jobs, job_id)
    assert counters(again) == counters(first) == ("COMPLETED", 4, 4, 0, 0)
    assert again["assets"] == first["assets"]
    assert meter_ids(aws, partner.partner_id) == sorted(meter_id_for(job_id, n) for n in range(4))


@pytest.fixture
def dies_at_record(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, bool], list[int]]:
    """Make DynamoJobRepository.record_chunk die once for the chunk holding asset `index` (its meters are
    already written): before storing anything, or after storing the outcomes but before the cursor update."""

    def arm(index: int, after_puts: bool) -> list[int]:
        died: list[int] = []
        real = DynamoJobRepository.record_chunk

        def record_chunk(self: DynamoJobRepository, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
            if died or not any(o.index == index for o in outcomes):
                real(self, job, start, outcomes)
                return
            died.append(index)
            if not after_puts:
                raise TimeoutError("Lambda timed out between the creates and storing the outcomes")

            def die(**_: Any) -> None:
                raise TimeoutError("Lambda timed out between storing the outcomes and the cursor update")

            events = clients.dynamodb().meta.events
            events.register("before-call.dynamodb.UpdateItem", die)
            try:
                real(self, job, start, outcomes)  # the outcome puts go through, the cursor update dies
            finally:
                events.unregister("before-call.dynamodb.UpdateItem", die)

        monkeypatch.setattr(DynamoJobRepository, "record_chunk", record_chunk)
        return died

    return arm


@pytest.fixture
def chunk_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The worker's chunk size (indirect parameter)."""
    size: int = request.param
    monkeypatch.setattr(worker_module, "CHUNK_SIZE", size)
    return size


@pytest.mark.parametrize(
    ("chunk_size", "k", "after_puts"),
    [(2, 3, False), (2, 0, True), (100, 2, True)],
    indirect=["chunk_size"],
    ids=["chunk-2-before-puts", "chunk-2-after-puts", "one-chunk-after-puts"],
)
def test_a_worker_killed_halfway_then_redelivered_finishes_exactly_once(
    aws: DynamoDBClient,
    invoke_jobs: InvokeJobs,
    job_worker: JobWorker,
    partner: IssuedKey,
    make_asset: MakeAsset,
    dies_at_record: Callable[[int, bool], list[int]],
    chunk_size: int,
    k: int,
    after_puts: bool,
) -> None:
    # Given a 5-asset job, and a first attempt that dies after creating the meters of asset k's chunk
    job_id = submit(invoke_jobs, [make_asset(f"kill-{n}") for n in range(5)])
    message = only_message(job_worker)
    died = dies_at_record(k, after_puts)
    assert not acknowledged(job_worker, message, receive_count=1)
    assert died == [k]
    chunk_start = k // chunk_size * chunk_size
    halfway = read_job(invoke_jobs, job_id)
    assert counters(halfway) == ("PROCESSING", 5, chunk_start, 0, 0)
    chunk_end = min(chunk_start + chunk_size, 5)
    assert len(halfway["assets"]) == (chunk_end if after_puts else chunk_start)
    assert len(meter_ids(aws, partner.partner_id)) == chunk_end
    # When the message is redelivered
    assert job_worker.handle(job_worker.event([message], receive_count=2)) == {"batchItemFailures": []}
    # Then the job is COMPLETED, asset k METER_CREATED with its deterministic id, one meter per asset
    job = read_job(invoke_jobs, job_id)
    assert counters(job) == ("COMPLETED", 5, 5, 0, 0)
    assert [(a["status"], a["status_detail"]["name"]) for a in job["assets"]] == [("COMPLETED", "METER_CREATED")] * 5
    assert job["assets"][k]["meter_id"] == meter_id_for(job_id, k)
    assert meter_ids(aws, partner.partner_id) == sorted(meter_id_for(job_id, n) for n in range(5))


def delete_payload(partner_id: str, job_id: str) -> None:
    key = f"partners/{partner_id}/meter-jobs/{job_id}/assets.jsonl"
    boto3.client("s3", region_name="us-east-1").delete_object(Bucket=os.environ["DATA_BUCKET_NAME"], Key=key)


def test_the_last_attempt_ends_a_broken_job_failed(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey, make_asset: MakeAsset
) -> None:
    # Given a job whose payload object was deleted
    job_id = submit(invoke_jobs, [make_asset("gone-1")])
    delete_payload(partner.partner_id, job_id)
    message = only_message(job_worker)
    # When the queue delivers it for the last time (maxReceiveCount = 5)
    assert job_worker.module.Settings.load().meter_jobs_max_receive_count == 5  # template.yaml QueueRedrive
    result = job_worker.handle(job_worker.event([message], receive_count=5))
    # Then the job ends FAILED with a reason, and the message is not reported as failed (no DLQ for it)
    assert result == {"batchItemFailures": []}
    job = read_job(invoke_jobs, job_id)
    assert job["status"] == "FAILED"
    assert "5 times" in job["failure_reason"]
    assert job["assets"] == []


@pytest.mark.parametrize("attempt", [1, 4])
def test_an_earlier_attempt_leaves_the_message_for_a_retry(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey, make_asset: MakeAsset, attempt: int
) -> None:
    # Given a job whose payload object was deleted
    job_id = submit(invoke_jobs, [make_asset("gone-1")])
    delete_payload(partner.partner_id, job_id)
    message = only_message(job_worker)
    # When an attempt before the last one fails
    retried = not acknowledged(job_worker, message, receive_count=attempt)
    # Then the message is not acknowledged (SQS retries it), and the job is still PROCESSING
    assert retried
    assert read_job(invoke_jobs, job_id)["status"] == "PROCESSING"


def test_an_earlier_attempt_reports_a_batch_item_failure(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey, make_asset: MakeAsset
) -> None:
    # Given a job whose payload object was deleted
    job_id = submit(invoke_jobs, [make_asset("gone-1")])
    delete_payload(partner.partner_id, job_id)
    message = only_message(job_worker)
    # When the first attempt fails
    result = job_worker.handle(job_worker.event([message], receive_count=1))
    # Then the message is reported as a batch item failure
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}


def test_a_message_for_an_unknown_job_is_acknowledged(job_worker: JobWorker, partner: IssuedKey) -> None:
    body = json.dumps({"partner_id": partner.partner_id, "job_id": str(uuid.uuid4())})
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh", "Body": body, "Attributes": {}}
    assert job_worker.handle(job_worker.event([message], receive_count=1)) == {"batchItemFailures": []}


@dataclass
class Countdown:
    """A LambdaContext whose remaining time drops by `step_ms` at every reading."""

    remaining_ms: int
    step_ms: int
    function_name: str = "meterhub-worker"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:meterhub-worker"
    aws_request_id: str = "00000000-0000-4000-8000-00000000000a"
    log_group_name: str = "/aws/lambda/meterhub-worker"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= self.step_ms
        return self.remaining_ms


@pytest.mark.parametrize("chunk_size", [2], indirect=True)
def test_time_nearly_up_queues_a_continuation_that_finishes_the_job(
    aws: DynamoDBClient,
    invoke_jobs: InvokeJobs,
    job_worker: JobWorker,
    partner: IssuedKey,
    make_asset: MakeAsset,
    chunk_size: int,
) -> None:
    # Given a 6-asset job in chunks of 2, and an invocation whose time nears the safety margin after one chunk
    job_id = submit(invoke_jobs, [make_asset(f"cont-{n}") for n in range(6)])
    message = only_message(job_worker)
    margin = job_worker.module.SAFETY_MARGIN_MS
    context = Countdown(remaining_ms=margin + 1000 + 1, step_ms=1000)  # 1 reading above the margin
    # When it runs
    result = job_worker.module.lambda_handler(job_worker.event([message], receive_count=1), context)
    # Then it stopped at the cursor, acknowledged its message and queued a continuation for the same job
    assert result == {"batchItemFailures": []}
    assert counters(read_job(invoke_jobs, job_id)) == ("PROCESSING", 6, 2, 0, 0)
    job_worker.delete([message])
    (continuation,) = job_worker.receive()
    assert json.loads(continuation["Body"]) == json.loads(message["Body"])
    # When the continuation is delivered
    job_worker.handle(job_worker.event([continuation], receive_count=1))
    job_worker.delete([continuation])
    # Then the job finished with every asset exactly once, and nothing else is queued
    job = read_job(invoke_jobs, job_id)
    assert counters(job) == ("COMPLETED", 6, 6, 0, 0)
    assert [a["partner_reference"] for a in job["assets"]] == [f"cont-{n}" for n in range(6)]
    assert len(meter_ids(aws, partner.partner_id)) == 6
    assert job_worker.receive() == []


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB API call made through meterhub's client while the fixture is active."""
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client = clients.dynamodb()
    client.meta.events.register("before-call.dynamodb.*", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)


ASSETS_FOR_COST = 20
MAX_REQUESTS_PER_ASSET = 3


def test_dynamodb_requests_per_created_asset(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset, dynamodb_calls: list[str]
) -> None:
    # Given a 20-asset job of new meters
    job_id = submit(invoke_jobs, [make_asset(f"cost-{n:02d}") for n in range(ASSETS_FOR_COST)])
    message = only_message(job_worker)
    dynamodb_calls.clear()
    # When the worker processes it
    assert job_worker.handle(job_worker.event([message], receive_count=1)) == {"batchItemFailures": []}
    calls = list(dynamodb_calls)
    # Then every asset was created, with at most 3 DynamoDB requests per asset (job overhead included)
    assert counters(read_job(invoke_jobs, job_id)) == ("COMPLETED", 20, 20, 0, 0)
    per_asset = len(calls) / ASSETS_FOR_COST
    breakdown = {name: calls.count(name) for name in sorted(set(calls))}
    assert per_asset <= MAX_REQUESTS_PER_ASSET, f"{per_asset:.2f} requests/asset: {breakdown}"
    # And the only per-asset request is the meter's conditional create; outcomes and counts go per chunk/job
    assert breakdown.get("TransactWriteItems") == ASSETS_FOR_COST, breakdown
    assert len(calls) - ASSETS_FOR_COST <= 6, breakdown


def test_one_oversized_asset_does_not_sink_the_job(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given a job whose middle asset carries a 450 KB street (invalid: at most 128 characters)
    big = make_asset("huge-1", customer={"street_1": "x" * 450_000})
    job_id = submit(invoke_jobs, [make_asset("huge-0"), big, make_asset("huge-2")])
    message = only_message(job_worker)
    # When the worker runs
    acknowledged(job_worker, message, receive_count=1)
    # Then only that asset failed, and the others were created
    job = read_job(invoke_jobs, job_id)
    assert counters(job) == ("COMPLETED_WITH_ERRORS", 3, 2, 0, 1)
    assert [a["status"] for a in job["assets"]] == ["COMPLETED", "FAILED", "COMPLETED"]
