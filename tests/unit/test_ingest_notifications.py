"""meterhub.intervals.use_cases.notifications: an SQS message body (an S3 event notification) -> the created
objects to ingest, and the retry policy of one delivery, on the InMemory fakes.

Bodies are built as S3 (and moto) write them: the key URL-encoded with `quote_plus`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.use_cases.notifications import (
    CreatedObject,
    NotANotification,
    created_objects,
    ingest_notification,
)
from meterhub.intervals.use_cases.pipeline import Ingestion, Within

from tests.emf import EmfCapture
from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore

PARTNER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
MAX_ATTEMPTS = 3


def drop_key(name: str) -> str:
    return f"partners/{PARTNER}/interval-data/{name}"


EVENT_TIME = datetime(2026, 11, 29, 1, 24, 21, 49000, tzinfo=UTC)
"""When S3 says the object was created (the start of the IntervalIngestLag metric)."""


def s3_record(key: str, event: str = "ObjectCreated:Put", version: str | None = None) -> dict[str, Any]:
    """One record as moto writes it (real S3 adds userIdentity, requestParameters, responseElements...)."""
    obj: dict[str, Any] = {"key": quote_plus(key), "size": 42, "eTag": "0cc175b9c0f1b6a831c399e269772661"}
    if version is not None:
        obj["versionId"] = version
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": EVENT_TIME.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": event,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "interval-files",
            "bucket": {"name": "meterhub-data", "arn": "arn:aws:s3:::meterhub-data"},
            "object": obj,
        },
    }


def body(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the use case logged so far."""
    return [record for record in caplog.records if record.pathname.endswith("notifications.py")]


# ----- parsing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("2025-06-01 site A+B.csv", "2025-06-01+site+A%2BB.csv"),
        ("relevé été №3 Zürich.csv", "relev%C3%A9+%C3%A9t%C3%A9+%E2%84%963+Z%C3%BCrich.csv"),
        ("100% 50%25 ~a.csv", "100%25+50%2525+~a.csv"),
    ],
    ids=["spaces-and-plus", "spaces-and-unicode", "percent-signs"],
)
def test_an_encoded_key_is_decoded_to_the_objects_real_name(name: str, encoded: str) -> None:
    record = s3_record(drop_key(name), version="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert record["s3"]["object"]["key"].endswith(encoded)  # as S3 sends it
    assert created_objects(body(record)) == [
        CreatedObject(drop_key(name), "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", EVENT_TIME)
    ]


def test_a_notification_from_s3_itself_with_every_field_is_read() -> None:
    record = s3_record(drop_key("a b.csv"))
    record |= {
        "userIdentity": {"principalId": "AWS:AIDAJEXAMPLE1234"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "D82B88E5F771F645", "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo"},
    }
    record["s3"]["bucket"]["ownerIdentity"] = {"principalId": "A3NL1KOZZKExample"}
    record["s3"]["object"]["sequencer"] = "0055AED6DCD90281E5"
    assert created_objects(body(record)) == [CreatedObject(drop_key("a b.csv"), None, EVENT_TIME)]


def test_only_object_created_records_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    removed = s3_record(drop_key("old.csv"), event="ObjectRemoved:Delete")
    created = s3_record(drop_key("new.csv"), event="ObjectCreated:CompleteMultipartUpload", version="v2")
    assert created_objects(body(removed, created)) == [CreatedObject(drop_key("new.csv"), "v2", EVENT_TIME)]
    assert [(line.getMessage(), line.__dict__.get("event_name")) for line in logged(caplog)] == [
        ("Not an ObjectCreated event; acknowledged", "ObjectRemoved:Delete")
    ]


def test_the_s3_test_event_names_nothing(caplog: pytest.LogCaptureFixture) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-29T01:24:21Z", "Bucket": "b"}
    assert created_objects(json.dumps(test_event)) == []
    assert [line.getMessage() for line in logged(caplog)] == ["S3 test event acknowledged"]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"Event": "s3:SomethingElse"}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {}}}]}),
        json.dumps({"Records": [{"s3": {"object": {"key": "k"}}}]}),
    ],
    ids=["not-json", "not-an-object", "unknown-event", "no-key", "no-event-name"],
)
def test_a_malformed_body_is_refused_for_the_dead_letter_queue(text: str, caplog: pytest.LogCaptureFixture) -> None:
    """Never acknowledged: the message goes through the queue's retries to the dead-letter queue, where it is kept."""
    with pytest.raises(NotANotification):
        created_objects(text)
    [line] = logged(caplog)
    assert (line.levelname, line.getMessage()) == (
        "ERROR",
        "Not an S3 event notification; left to the queue's retries and dead-letter queue",
    )
    problems = line.__dict__["problems"]
    assert 1 <= len(problems) <= line.__dict__["problem_count"]
    assert "SomethingElse" not in json.dumps(problems)  # problems name places and rules, never the values


# ----- one delivery -----------------------------------------------------------------------------------------


class PoisonIngestion(Ingestion):
    """The pipeline crashing on every file (the real give_up runs)."""

    def ingest(
        self, key: str, version: str | None = None, created_at: datetime | None = None, within: Within | None = None
    ) -> UploadJob | None:
        raise RuntimeError("the ingest function crashed on this file")


def poison(objects: InMemoryObjectStore, uploads: InMemoryUploadRepository) -> Ingestion:
    return PoisonIngestion(uploads, InMemoryIntervalStore(), objects, InMemoryMeterRepository())


def dropped(name: str) -> tuple[InMemoryObjectStore, InMemoryUploadRepository]:
    """A file (a bare header) in PARTNER's drop folder, and no upload jobs yet."""
    objects = InMemoryObjectStore()
    objects.put(drop_key(name), b"meter_id\n", "text/csv")
    return objects, InMemoryUploadRepository()


@pytest.mark.parametrize("attempt", [1, MAX_ATTEMPTS - 1])
def test_a_failure_before_the_last_attempt_is_raised_for_the_queue_to_retry(attempt: int) -> None:
    objects, uploads = dropped("poison.csv")
    with pytest.raises(RuntimeError):
        ingest_notification(
            poison(objects, uploads), body(s3_record(drop_key("poison.csv"))), attempt=attempt, max_attempts=3
        )
    assert uploads.by_id == {}
    assert drop_key("poison.csv") in objects.objects


def test_a_failure_on_the_last_attempt_ends_the_files_job_failed_under_failed() -> None:
    name = "poison été.csv"
    objects, uploads = dropped(name)
    ingest_notification(
        poison(objects, uploads), body(s3_record(drop_key(name))), attempt=MAX_ATTEMPTS, max_attempts=MAX_ATTEMPTS
    )
    [job] = [job for _, job in uploads.jobs(PARTNER)]
    assert job.status is UploadStatus.FAILED
    assert job.failure_reason == "processing failed 3 times; upload the file again"
    assert job.current_file_path == f"/interval-data/failed/{name}/{name}"
    assert drop_key(name) not in objects.objects


def test_keys_that_are_not_drops_are_not_ingested() -> None:
    objects, uploads = dropped("x.csv")
    ours = f"partners/{PARTNER}/interval-data/accepted/x.csv/x.csv"
    other = "elsewhere/x.csv"
    ingest_notification(poison(objects, uploads), body(s3_record(ours), s3_record(other)), attempt=1, max_attempts=3)
    assert uploads.by_id == {}


def test_a_drop_is_ingested_and_filed_under_its_decoded_name() -> None:
    # Given a drop whose name has spaces and accents (the file itself is refused: no data columns)
    name = "relevé 2025-06-01.csv"
    objects, uploads = dropped(name)
    ingestion = Ingestion(uploads, InMemoryIntervalStore(), objects, InMemoryMeterRepository())
    # When its notification is delivered
    ingest_notification(ingestion, body(s3_record(drop_key(name))), attempt=1, max_attempts=MAX_ATTEMPTS)
    # Then the pipeline ran on the real key: the job names the file as the partner wrote it
    [job] = [job for _, job in uploads.jobs(PARTNER)]
    assert (job.status, job.failure_reason) == (UploadStatus.FAILED, None)
    assert job.uploaded_file_path == f"/interval-data/{name}"
    assert job.current_file_path == f"/interval-data/failed/{name}/{name}"


# ----- metrics ----------------------------------------------------------------------------------------------


def test_the_ingest_lag_starts_at_the_notifications_event_time(emf: EmfCapture) -> None:
    objects, uploads = dropped("late.csv")
    record = s3_record(drop_key("late.csv"))
    ingestion = Ingestion(
        uploads,
        InMemoryIntervalStore(),
        objects,
        InMemoryMeterRepository(),
        now=lambda: EVENT_TIME + timedelta(seconds=75),
    )
    ingest_notification(ingestion, body(record), attempt=1, max_attempts=MAX_ATTEMPTS)
    [lag] = [metric for metric in emf() if metric.name == "IntervalIngestLag"]
    assert (lag.unit, lag.values, lag.dimensions) == ("Seconds", [75.0], {})


@pytest.mark.parametrize("event_time", [None, "yesterday", "2026-11-29T01:24:21"])
def test_a_missing_or_odd_event_time_never_refuses_the_notification(event_time: str | None) -> None:
    record = s3_record(drop_key("a.csv"))
    if event_time is None:
        del record["eventTime"]
    else:
        record["eventTime"] = event_time
    [created] = created_objects(body(record))
    naive = event_time is not None and event_time[0].isdigit()
    assert created.created_at == (datetime(2026, 11, 29, 1, 24, 21, tzinfo=UTC) if naive else None)
