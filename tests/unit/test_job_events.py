"""job_events: the webhook events one JobsTable stream record calls for, with ids stable across retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.meter_jobs.records import JobStatus, MeterJob, PayloadFormat
from meterhub.meter_jobs.use_cases.job_events import events_for, publish_changes
from meterhub.meters.use_cases.meter_events import event_id
from meterhub.platform.codec import to_item
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange

from tests.fakes.queues import InMemoryWorkQueue

pytestmark = pytest.mark.usefixtures("no_network")

AT = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
JOB_ID = "33333333-3333-3333-3333-333333333333"
UPLOAD_ID = "44444444-4444-4444-4444-444444444444"
PK = {"S": "PARTNER#partner-1"}


def job_image(status: JobStatus) -> dict[str, Any]:
    """A JobsTable meter-job item (native attributes, DynamoDB JSON), as DynamoJobRepository writes it."""
    job = MeterJob(
        job_id=JOB_ID,
        partner_id="partner-1",
        status=status,
        file_name="assets.csv",
        payload_format=PayloadFormat.CSV,
        assets_count=3,
        assets_created_count=1,
        assets_updated_count=1,
        assets_failed_count=1,
        created_at=AT,
        updated_at=AT,
    )
    return {"pk": PK, "sk": {"S": f"JOB#{JOB_ID}"}, **to_item(job.model_dump(mode="json"))}


def upload_image(status: UploadStatus) -> dict[str, Any]:
    """A JobsTable upload item: the UploadJob JSON in `doc`."""
    job = UploadJob(
        job_id=UPLOAD_ID,
        partner_id="partner-1",
        status=status,
        uploaded_file_path="/interval-data/day.csv",
        current_file_path="/interval-data/day.csv",
        object_key="partners/partner-1/interval-data/day.csv",
        uploaded_at=AT,
        updated_at=AT,
        rows_total=10,
        rows_valid=8,
        rows_invalid=2,
        errors_total=2,
    )
    return {"pk": PK, "sk": {"S": f"UPLOAD#{UPLOAD_ID}"}, "doc": {"S": job.model_dump_json()}}


def change(name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> StreamChange:
    keys = {"pk": PK, "sk": (new or old or {})["sk"]}
    return StreamChange(event_id="stream-event-1", event_name=name, keys=keys, new_image=new, old_image=old)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED])
def test_a_meter_job_becoming_terminal_publishes_meter_job_completed(status: JobStatus) -> None:
    # Given a meter job moved from PROCESSING to a terminal status
    record = change("MODIFY", job_image(status), job_image(JobStatus.PROCESSING))

    # When its events are derived
    (event,) = events_for(record)

    # Then meter_job.completed carries the job's status, file and counters, for its partner
    assert event.partner_id == "partner-1"
    assert event.payload == {
        "webhook_event_type": "meter_job.completed",
        "job_id": JOB_ID,
        "status": status.value,
        "file_name": "assets.csv",
        "assets_count": 3,
        "assets_created_count": 1,
        "assets_updated_count": 1,
        "assets_failed_count": 1,
    }
    assert event.webhook_event_id == event_id("stream-event-1", WebhookEventType.METER_JOB_COMPLETED)


@pytest.mark.parametrize(
    ("status", "event_type"),
    [(UploadStatus.COMPLETED, "interval_upload.completed"), (UploadStatus.FAILED, "interval_upload.failed")],
)
def test_an_upload_becoming_terminal_publishes_its_interval_upload_event(status: UploadStatus, event_type: str) -> None:
    # Given an upload moved from PROCESSING to a terminal status
    (event,) = events_for(change("MODIFY", upload_image(status), upload_image(UploadStatus.PROCESSING)))

    # Then its event carries the partner-visible path, status and row counters
    assert event.payload == {
        "webhook_event_type": event_type,
        "job_id": UPLOAD_ID,
        "file_path": "/interval-data/day.csv",
        "status": status.value,
        "rows_total": 10,
        "rows_valid": 8,
        "rows_invalid": 2,
        "errors_total": 2,
    }


def test_a_job_inserted_terminal_publishes_its_event() -> None:
    # Given items written terminal straight away (no old image)
    assert len(events_for(change("INSERT", job_image(JobStatus.FAILED)))) == 1
    assert len(events_for(change("INSERT", upload_image(UploadStatus.FAILED)))) == 1


def test_non_terminal_changes_rewrites_of_terminal_jobs_and_removals_publish_nothing() -> None:
    processing = job_image(JobStatus.PROCESSING)
    assert events_for(change("INSERT", processing)) == []
    assert events_for(change("MODIFY", processing, processing)) == []
    done = job_image(JobStatus.COMPLETED)
    assert events_for(change("MODIFY", done, done)) == []
    assert events_for(change("REMOVE", None, done)) == []
    assert events_for(change("INSERT", upload_image(UploadStatus.QUEUED))) == []
    queued, running = upload_image(UploadStatus.QUEUED), upload_image(UploadStatus.PROCESSING)
    assert events_for(change("MODIFY", running, queued)) == []
    failed = upload_image(UploadStatus.FAILED)
    assert events_for(change("MODIFY", failed, failed)) == []
    assert events_for(change("REMOVE", None, failed)) == []


def test_asset_and_object_claim_items_are_ignored() -> None:
    asset = {"pk": {"S": f"PARTNER#partner-1#JOB#{JOB_ID}"}, "sk": {"S": "ASSET#0000000"}, "doc": {"S": "{}"}}
    claim = {"pk": PK, "sk": {"S": "OBJECT#partners/partner-1/x.csv#v1"}, "job_id": {"S": UPLOAD_ID}}
    assert events_for(change("INSERT", asset)) == []
    assert events_for(change("INSERT", claim)) == []


def test_event_ids_are_stable_across_retries_of_one_record() -> None:
    # Given one stream record published twice (a retried batch)
    record = change("MODIFY", upload_image(UploadStatus.COMPLETED), upload_image(UploadStatus.PROCESSING))
    queue = InMemoryWorkQueue()

    first = publish_changes(queue, record)
    second = publish_changes(queue, record)

    # Then the same uuid5 webhook_event_id is published both times
    assert first == second
    assert first == [event_id("stream-event-1", WebhookEventType.INTERVAL_UPLOAD_COMPLETED)]
    assert uuid.UUID(first[0]).version == 5
    assert [m["webhook_event_id"] for m in queue.messages] == first + second
    assert queue.messages[0]["partner_id"] == "partner-1"
