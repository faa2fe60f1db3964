"""functions/job_events/app.py on moto: a meter job and an upload job written through their repositories, their
JobsTable stream records read with dynamodbstreams and handed to the handler, the events read back from
WebhookEventsQueue."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from meterhub.intervals.adapters.uploads import dynamo_upload_repository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.meter_jobs.adapters.dynamodb import dynamo_job_repository
from meterhub.meter_jobs.records import JobStatus, MeterJob, PayloadFormat
from meterhub_dev.local.event_sources import streams_client

pytestmark = pytest.mark.pristine_aws  # fixed partner ids, and the table's whole stream

_spec = importlib.util.spec_from_file_location("_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_root = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(_root)
REGION: str = _root.REGION
TABLE_ENV: dict[str, str] = _root.TABLE_ENV
function_environment = _root.function_environment
receive_all = _root.receive_all

AT = datetime(2025, 2, 3, 10, 30, tzinfo=UTC)


def stream_records() -> list[dict[str, Any]]:
    """Every record of the JobsTable stream, as Lambda hands them over (JSON: no datetimes)."""
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=TABLE_ENV["JOBS_TABLE_NAME"])
    arn = table["Table"]["LatestStreamArn"]
    streams = streams_client(None, REGION)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records.extend(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])
    for record in records:
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
    return records


def events_on_queue() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
    messages = receive_all(sqs, queue_url)
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def handler(aws: Any, load_function: Callable[[str], ModuleType], lambda_context: Any) -> Callable[..., Any]:
    module = load_function("functions/job_events/app.py")
    return lambda records: module.lambda_handler({"Records": records}, lambda_context)


def test_jobs_reaching_a_terminal_status_publish_their_events_from_the_stream(handler: Callable[..., Any]) -> None:
    # Given a meter job created PROCESSING and then finished, through the repository
    jobs = dynamo_job_repository(TABLE_ENV["JOBS_TABLE_NAME"])
    job = MeterJob(
        job_id="job-1",
        partner_id="partner-1",
        file_name="assets.json",
        payload_format=PayloadFormat.JSON,
        assets_count=2,
        assets_created_count=1,
        assets_failed_count=1,
        created_at=AT,
        updated_at=AT,
    )
    jobs.create(job)
    assert jobs.finish(job, JobStatus.COMPLETED_WITH_ERRORS)

    # And an upload claimed, queued, processed and failed, through its repository
    uploads = dynamo_upload_repository(TABLE_ENV["JOBS_TABLE_NAME"])
    upload = UploadJob(
        job_id="upload-1",
        partner_id="partner-2",
        uploaded_file_path="/interval-data/day.csv",
        current_file_path="/interval-data/day.csv",
        object_key="partners/partner-2/interval-data/day.csv",
        object_version="v1",
        uploaded_at=AT,
        updated_at=AT,
    )
    uploads.claim_object("partner-2", upload.object_key, "v1", upload.job_id)
    uploads.create(upload)
    uploads.save(upload.model_copy(update={"status": UploadStatus.PROCESSING}))
    failed = {"status": UploadStatus.FAILED, "rows_total": 4, "rows_invalid": 4, "errors_total": 5}
    uploads.save(upload.model_copy(update=failed))
    records = stream_records()
    assert len(records) == 6

    # When the stream batch is handed to the function
    assert handler(records) == {"batchItemFailures": []}

    # Then exactly one event per terminal transition is on WebhookEventsQueue, for the job's partner
    events = {e["payload"]["webhook_event_type"]: e for e in events_on_queue()}
    assert sorted(events) == ["interval_upload.failed", "meter_job.completed"]
    completed = events["meter_job.completed"]
    assert completed["partner_id"] == "partner-1"
    assert completed["payload"] == {
        "webhook_event_type": "meter_job.completed",
        "job_id": "job-1",
        "status": "COMPLETED_WITH_ERRORS",
        "file_name": "assets.json",
        "assets_count": 2,
        "assets_created_count": 1,
        "assets_updated_count": 0,
        "assets_failed_count": 1,
    }
    upload_failed = events["interval_upload.failed"]
    assert upload_failed["partner_id"] == "partner-2"
    assert upload_failed["payload"] == {
        "webhook_event_type": "interval_upload.failed",
        "job_id": "upload-1",
        "file_path": "/interval-data/day.csv",
        "status": "FAILED",
        "rows_total": 4,
        "rows_valid": 0,
        "rows_invalid": 4,
        "errors_total": 5,
    }

    # And a retried batch publishes the very same event ids (receivers dedupe on them)
    assert handler(records) == {"batchItemFailures": []}
    assert {e["webhook_event_id"] for e in events_on_queue()} == {e["webhook_event_id"] for e in events.values()}
