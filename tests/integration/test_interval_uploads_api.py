"""functions/interval_uploads_api/app.py on moto: upload (the S3 object with its job-id metadata, the QUEUED job,
the bucket notification), the presigned PUT and GET used for real, the job list, job, preview and download
after a simulated pipeline run, stored intervals, the gap search, bad input on every route, tenant isolation
on every route, and every sample event under events/interval_uploads_api/."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

import boto3
import pytest
import requests
from meterhub import wiring
from meterhub.intervals.adapters.dynamodb import DynamoIntervalStore
from meterhub.intervals.adapters.uploads import DynamoUploadRepository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.slots import DaySlots
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.meters.adapters.dynamodb import DynamoMeterRepository
from meterhub_dev.local.stack import load_template

from tests.conftest import load_function_module

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

ROOT = Path(__file__).resolve().parents[2]
UPLOAD = "/v1.1/interval-data"
UPLOAD_URL = "/v1.1/interval-data/upload-url"
JOBS = "/v1.1/jobs/interval-data-uploads"
GAPS = "/v1.1/missing-interval-data/search"
CSV = "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh\r\nm,2025-01-01T00:00:00Z,x,1\r\n"


class Result(Protocol):
    """tests/conftest.py HttpResult."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any: ...


InvokeUploads = Callable[..., Result]
Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]


def bucket() -> str:
    return os.environ["DATA_BUCKET_NAME"]


def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def upload(invoke_uploads: InvokeUploads, body: str | bytes = CSV, partner_id: str | None = None, **query: str) -> str:
    response = invoke_uploads(
        "POST", UPLOAD, raw_body=body, content_type="text/csv", query={"schema": "load", **query}, partner_id=partner_id
    )
    assert response.status == 200, response.text
    return str(response.json["job_id"])


def uploads_repo() -> DynamoUploadRepository:
    return DynamoUploadRepository(os.environ["JOBS_TABLE_NAME"])


def assert_error(response: Result, status: int, field: str) -> dict[str, Any]:
    assert response.status == status, response.text
    body: dict[str, Any] = response.json
    assert body["status"] == status and body["title"]
    assert field in body["details"], body
    return body


# ----- upload ---------------------------------------------------------------------------------------------
def test_an_upload_stores_the_file_with_its_job_id_and_queues_the_job(
    invoke_uploads: InvokeUploads, partner: IssuedKey
) -> None:
    # When the partner uploads a CSV file under a name
    job_id = upload(invoke_uploads, file_name="2025-01-31.csv")
    # Then the file is in the partner's drop folder, carrying the job id
    key = f"partners/{partner.partner_id}/interval-data/2025-01-31.csv"
    obj = s3().get_object(Bucket=bucket(), Key=key)
    assert obj["Body"].read().decode() == CSV
    assert obj["Metadata"] == {"job-id": job_id}
    assert obj["ContentType"] == "text/csv"
    # And the job is QUEUED at that key
    job = uploads_repo().get(partner.partner_id, job_id)
    assert job is not None and job.status is UploadStatus.QUEUED
    assert (job.object_key, job.uploaded_file_path, job.current_file_path) == (
        key,
        "/interval-data/2025-01-31.csv",
        "/interval-data/2025-01-31.csv",
    )
    # And the bucket told the ingest queue about the file
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="IntervalFilesQueue")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    keys = [unquote(r["s3"]["object"]["key"]) for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    assert key in keys


def test_a_base64_body_is_stored_byte_for_byte(invoke_uploads: InvokeUploads, partner: IssuedKey) -> None:
    body = b"\xef\xbb\xbfmeter_id\r\ncaf\xc3\xa9\r\n\xff"
    job_id = upload(invoke_uploads, body)
    key = f"partners/{partner.partner_id}/interval-data/upload-{job_id}.csv"
    assert s3().get_object(Bucket=bucket(), Key=key)["Body"].read() == body


BAD_UPLOADS: list[tuple[dict[str, str], str | None, str, int, str]] = [
    ({}, "text/csv", CSV, 400, "schema"),
    ({"schema": "runtime"}, "text/csv", CSV, 400, "schema"),
    ({"schema": "load"}, "application/json", CSV, 415, "content-type"),
    ({"schema": "load"}, None, CSV, 415, "content-type"),
    ({"schema": "load"}, "text/csv", "", 400, "body"),
    ({"schema": "load", "file_name": "../x.csv"}, "text/csv", CSV, 400, "file_name"),
    ({"schema": "load", "file_name": ".hidden"}, "text/csv", CSV, 400, "file_name"),
]


@pytest.mark.pristine_aws  # the whole bucket must stay empty
def test_bad_uploads_are_refused_naming_the_problem(invoke_uploads: InvokeUploads) -> None:
    for query, content_type, body, status, field in BAD_UPLOADS:
        response = invoke_uploads("POST", UPLOAD, raw_body=body, content_type=content_type, query=query)
        assert_error(response, status, field)
    assert s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0) == 0
    assert invoke_uploads("GET", JOBS).json == {"uploads": []}


def test_runtime_schema_answer_says_only_load_is_supported(invoke_uploads: InvokeUploads) -> None:
    response = invoke_uploads("POST", UPLOAD, raw_body=CSV, content_type="text/csv", query={"schema": "runtime"})
    assert "only load is supported" in response.json["details"]["schema"]


def test_a_file_over_5_mb_is_a_413_pointing_to_the_upload_url(invoke_uploads: InvokeUploads) -> None:
    body = "x" * (5 * 1024 * 1024 + 1)
    response = invoke_uploads("POST", UPLOAD, raw_body=body, content_type="text/csv", query={"schema": "load"})
    details = assert_error(response, 413, "body")["details"]
    assert "/v1.1/interval-data/upload-url" in details["body"]


# ----- upload URL -----------------------------------------------------------------------------------------
def test_the_upload_url_takes_a_put_that_lands_with_the_job_id(
    invoke_uploads: InvokeUploads, partner: IssuedKey
) -> None:
    # Given an upload URL
    response = invoke_uploads("POST", UPLOAD_URL, {"file_name": "january.csv", "schema": "load"})
    assert response.status == 201, response.text
    answer = response.json
    job_id = answer["job_id"]
    assert answer["method"] == "PUT" and answer["expires_in_seconds"] == 900
    assert answer["headers"] == {"Content-Type": "text/csv", "x-amz-meta-job-id": job_id}
    job = uploads_repo().get(partner.partner_id, job_id)
    assert job is not None and job.status is UploadStatus.QUEUED
    # When the partner PUTs the file there with the given headers
    put = requests.put(answer["upload_url"], data=CSV.encode(), headers=answer["headers"], timeout=10)
    assert put.status_code == 200, put.text
    # Then the file is in the drop folder with the job id
    head = s3().head_object(Bucket=bucket(), Key=f"partners/{partner.partner_id}/interval-data/january.csv")
    assert head["Metadata"] == {"job-id": job_id}


def test_bad_upload_url_requests_are_a_400(invoke_uploads: InvokeUploads) -> None:
    for body, field in [
        ({"file_name": "a.csv"}, "schema"),
        ({"file_name": "a.csv", "schema": "performance"}, "schema"),
        ({"file_name": "a/b.csv", "schema": "load"}, "file_name"),
        ({"schema": "load", "bucket": "x"}, "bucket"),
    ]:
        assert_error(invoke_uploads("POST", UPLOAD_URL, body), 400, field)
    assert invoke_uploads("GET", JOBS).json == {"uploads": []}


# ----- jobs -----------------------------------------------------------------------------------------------
def simulate_pipeline(partner_id: str, job_id: str, *, failed: bool) -> UploadJob:
    """What the ingest function records: the file moved to accepted/ or failed/, counters, errors."""
    repo = uploads_repo()
    job = repo.get(partner_id, job_id)
    assert job is not None
    name = job.uploaded_file_path.rsplit("/", 1)[1]
    folder = f"/interval-data/{'failed' if failed else 'accepted'}/{name}"
    s3().copy_object(
        Bucket=bucket(),
        Key=f"partners/{partner_id}{folder}/{name}",
        CopySource={"Bucket": bucket(), "Key": job.object_key},
    )
    s3().delete_object(Bucket=bucket(), Key=job.object_key)
    errors = [{"line": 2, "column": "interval_end_time_utc", "code": "ETM_0002", "message": "x is not a UTC time"}]
    done = job.model_copy(
        update={
            "status": UploadStatus.FAILED if failed else UploadStatus.COMPLETED,
            "current_file_path": f"{folder}/{name}",
            "rows_total": 1,
            "rows_invalid": 1 if failed else 0,
            "rows_valid": 0 if failed else 1,
            "errors_total": 1 if failed else 0,
            "errors": errors if failed else [],
            "error_summary": [{"column": "interval_end_time_utc", "code": "ETM_0002", "count": 1}] if failed else [],
            "error_csv_file_path": f"{folder}/{job_id}.errors.csv" if failed else None,
            "feedback_file_path": f"{folder}/{job_id}.feedback",
            "updated_at": datetime.now(UTC),
        }
    )
    repo.save(done)
    return done


def test_the_job_list_shows_uploads_newest_first_and_filters(invoke_uploads: InvokeUploads, partner: IssuedKey) -> None:
    first = upload(invoke_uploads, file_name="day.csv")
    second = upload(invoke_uploads, file_name="other.csv")
    third = upload(invoke_uploads, file_name="day.csv")
    simulate_pipeline(partner.partner_id, first, failed=True)

    listed = invoke_uploads("GET", JOBS)
    assert listed.status == 200, listed.text
    assert [u["last_job_id"] for u in listed.json["uploads"]] == [third, second, first]
    oldest = listed.json["uploads"][-1]
    assert oldest["status"] == "FAILED"
    assert oldest["uploaded_file_path"] == "/interval-data/day.csv"
    assert oldest["current_file_path"] == "/interval-data/failed/day.csv/day.csv"
    assert oldest["error_csv_file_path"] == f"/interval-data/failed/day.csv/{first}.errors.csv"
    assert oldest["feedback_csv_file_path"] == f"/interval-data/failed/day.csv/{first}.feedback"
    assert "next_page_token" not in listed.json

    by_path = invoke_uploads("GET", JOBS, query={"file_path": "/interval-data/day.csv", "status": "QUEUED"})
    assert [u["last_job_id"] for u in by_path.json["uploads"]] == [third]
    since = invoke_uploads("GET", JOBS, query={"from": oldest["uploaded_at_date_time"], "to": "2999-01-01T00:00:00Z"})
    assert len(since.json["uploads"]) == 3
    page = invoke_uploads("GET", JOBS, query={"page_size": "2"})
    assert len(page.json["uploads"]) == 2
    rest = invoke_uploads("GET", JOBS, query={"page_size": "2", "page_token": page.json["next_page_token"]})
    assert [u["last_job_id"] for u in rest.json["uploads"]] == [first]


def test_bad_list_queries_are_a_400(invoke_uploads: InvokeUploads) -> None:
    for query, field in [
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-01-01"}, "to"),
        ({"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, "to"),
        ({"status": "DONE"}, "status"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "501"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"file_path": "/etc/passwd"}, "file_path"),
        ({"page_token": "forged"}, "page_token"),
    ]:
        assert_error(invoke_uploads("GET", JOBS, query=query), 400, field)


def test_a_failed_job_shows_its_errors(invoke_uploads: InvokeUploads, partner: IssuedKey) -> None:
    job_id = upload(invoke_uploads, file_name="bad.csv")
    queued = invoke_uploads("GET", f"{JOBS}/{job_id}")
    assert queued.status == 200 and queued.json["status"] == "QUEUED" and queued.json["errors"] == []
    simulate_pipeline(partner.partner_id, job_id, failed=True)
    answer = invoke_uploads("GET", f"{JOBS}/{job_id}").json
    assert answer["job_id"] == job_id and answer["status"] == "FAILED"
    assert answer["error_csv_file_path"] == f"/interval-data/failed/bad.csv/{job_id}.errors.csv"
    assert answer["error_summary"] == [{"column": "interval_end_time_utc", "code": "ETM_0002", "count": 1}]
    assert answer["errors"] == [
        {"line": 2, "column": "interval_end_time_utc", "code": "ETM_0002", "message": "x is not a UTC time"}
    ]
    assert (answer["errors_total"], answer["errors_truncated"]) == (1, False)


def test_job_routes_answer_400_for_a_malformed_id_and_404_for_an_unknown_one(invoke_uploads: InvokeUploads) -> None:
    for prefix in (f"{JOBS}/", f"{JOBS}/file-preview/", f"{JOBS}/presigned-url/"):
        assert_error(invoke_uploads("GET", f"{prefix}not-a-uuid"), 400, "job_id")
        assert_error(invoke_uploads("GET", f"{prefix}{uuid.uuid4()}"), 404, "job_id")


def test_the_preview_streams_the_first_lines_of_the_current_file(
    invoke_uploads: InvokeUploads, partner: IssuedKey
) -> None:
    rows = "".join(f"m{n},2025-01-01T00:00:00Z,2025-01-01T00:15:00Z,1\r\n" for n in range(30))
    job_id = upload(invoke_uploads, "\ufeffmeter_id,start,end,net\r\n" + rows, file_name="long.csv")
    before = invoke_uploads("GET", f"{JOBS}/file-preview/{job_id}")
    assert before.status == 200, before.text
    assert before.json["file_data"][0] == "meter_id,start,end,net"
    assert len(before.json["file_data"]) == 20 and before.json["is_limited"] is True
    assert before.json["status"] == "QUEUED" and before.json["job_id"] == job_id
    # After the pipeline moved the file, the preview reads it at its new place
    simulate_pipeline(partner.partner_id, job_id, failed=False)
    after = invoke_uploads("GET", f"{JOBS}/file-preview/{job_id}")
    assert after.json["file_data"] == before.json["file_data"] and after.json["status"] == "COMPLETED"


def test_the_preview_of_a_url_job_without_its_file_is_404(invoke_uploads: InvokeUploads) -> None:
    job_id = invoke_uploads("POST", UPLOAD_URL, {"schema": "load"}).json["job_id"]
    body = assert_error(invoke_uploads("GET", f"{JOBS}/file-preview/{job_id}"), 404, "job_id")
    assert body["title"] == "No file has been uploaded for this job yet"


def test_the_download_redirects_to_a_short_lived_url_of_the_current_file(
    invoke_uploads: InvokeUploads, partner: IssuedKey
) -> None:
    job_id = upload(invoke_uploads, file_name="fetch.csv")
    simulate_pipeline(partner.partner_id, job_id, failed=True)
    response = invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}")
    assert response.status == 302 and response.text == ""
    assert "no-store" in response.headers["cache-control"]
    location = response.headers["location"]
    assert "/interval-data/failed/fetch.csv/fetch.csv" in unquote(location)
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.text == CSV
    assert 'filename="fetch.csv"' in fetched.headers["Content-Disposition"]


def ingest(partner_id: str, job_id: str) -> UploadJob:
    """Run the real pipeline (what the ingest function does with the file's S3 event) on the job's file."""
    settings = load_function_module("functions/interval_uploads_api/app.py").Settings.load()
    job = uploads_repo().get(partner_id, job_id)
    assert job is not None
    Ingestion(
        uploads=wiring.upload_repository(settings),
        intervals=wiring.interval_store(settings),
        objects=wiring.data_objects(settings),
        meters=wiring.meter_repository(settings),
    ).ingest(job.object_key)
    done = uploads_repo().get(partner_id, job_id)
    assert done is not None
    return done


def test_the_error_report_downloads_through_a_presigned_url_with_every_error(
    invoke_uploads: InvokeUploads, partner: IssuedKey
) -> None:
    # Given a file with more errors than the job keeps (100), ingested and FAILED
    rows = "".join(f"not-a-meter-{n},2025-01-01T00:07:00Z,2025-01-01T00:15:00Z,x\r\n" for n in range(60))
    job_id = upload(invoke_uploads, CSV.splitlines()[0] + "\r\n" + rows, file_name="many.csv")
    job = ingest(partner.partner_id, job_id)
    assert job.status is UploadStatus.FAILED and job.errors_total > 100, job
    # When the partner asks for the error report
    response = invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "errors"})
    # Then it is a 302 to a short-lived URL of <job_id>.errors.csv, and the report holds every error
    assert response.status == 302 and response.text == ""
    assert "no-store" in response.headers["cache-control"]
    assert f"/interval-data/failed/many.csv/{job_id}.errors.csv" in unquote(response.headers["location"])
    fetched = requests.get(response.headers["location"], timeout=10)
    assert fetched.status_code == 200, fetched.text
    assert f'filename="{job_id}.errors.csv"' in fetched.headers["Content-Disposition"]
    lines = fetched.text.splitlines()
    assert lines[0] == "line,column,code,message"
    assert len(lines) - 1 == job.errors_total
    # And `file=original` (the default) is still the uploaded file
    original = invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "original"})
    assert "/interval-data/failed/many.csv/many.csv" in unquote(original.headers["location"])


def test_a_job_without_an_error_report_answers_404_saying_so(invoke_uploads: InvokeUploads, partner: IssuedKey) -> None:
    queued = upload(invoke_uploads, file_name="waiting.csv")
    completed = upload(invoke_uploads, file_name="fine.csv")
    simulate_pipeline(partner.partner_id, completed, failed=False)
    for job_id, status in ((queued, "QUEUED"), (completed, "COMPLETED")):
        response = invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "errors"})
        body = assert_error(response, 404, "job_id")
        assert body["title"].startswith("This job has no error report")
        assert body["details"] == {"job_id": job_id, "status": status}


def test_an_unknown_file_choice_is_a_400(invoke_uploads: InvokeUploads) -> None:
    job_id = upload(invoke_uploads, file_name="choice.csv")
    assert_error(invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "feedback"}), 400, "file")


def test_another_partner_cannot_download_this_partners_error_report(
    invoke_uploads: InvokeUploads, partner: IssuedKey, other_partner: IssuedKey
) -> None:
    job_id = upload(invoke_uploads, file_name="private.csv")
    simulate_pipeline(partner.partner_id, job_id, failed=True)
    mine = invoke_uploads("GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "errors"})
    assert mine.status == 302
    theirs = invoke_uploads(
        "GET", f"{JOBS}/presigned-url/{job_id}", query={"file": "errors"}, partner_id=other_partner.partner_id
    )
    body = assert_error(theirs, 404, "job_id")
    assert body["details"] == {"job_id": job_id} and "location" not in theirs.headers


# ----- stored intervals and gaps --------------------------------------------------------------------------
def create_meter(invoke: Invoke, make_asset: MakeAsset, reference: str, partner_id: str | None = None) -> str:
    status, body = invoke("POST", "/v1.1/meters", {"provisional_asset": make_asset(reference)}, partner_id=partner_id)
    assert status == 200, body
    return str(body["meter_id"])


def backdate(partner_id: str, meter_id: str, created: datetime) -> None:
    repo = DynamoMeterRepository(os.environ["METERS_TABLE_NAME"])
    meter = repo.get(partner_id, meter_id)
    assert meter is not None
    repo.replace(meter.model_copy(update={"created_at": created, "version": meter.version + 1}), meter.version)


def store_day(partner_id: str, meter_id: str, day: date, slots: range) -> None:
    record = DaySlots.empty()
    for slot in slots:
        record.put(slot, 0.5, 0.75, 0.25, final=slot % 2 == 0)
    DynamoIntervalStore(os.environ["INTERVALS_TABLE_NAME"]).merge(partner_id, meter_id, day, record)


def test_stored_intervals_read_back_in_pages(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey
) -> None:
    meter_id = create_meter(invoke, make_asset, "read-back")
    store_day(partner.partner_id, meter_id, date(2025, 1, 31), range(94, 96))
    store_day(partner.partner_id, meter_id, date(2025, 2, 1), range(3))
    query = {"start": "2025-01-31T00:00:00Z", "end": "2025-02-02T00:00:00Z"}
    answer = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query)
    assert answer.status == 200, answer.text
    intervals = answer.json["intervals"]
    assert [i["interval_start_time_utc"] for i in intervals] == [
        "2025-01-31T23:30:00Z",
        "2025-01-31T23:45:00Z",
        "2025-02-01T00:00:00Z",
        "2025-02-01T00:15:00Z",
        "2025-02-01T00:30:00Z",
    ]
    assert intervals[0] == {
        "interval_start_time_utc": "2025-01-31T23:30:00Z",
        "interval_end_time_utc": "2025-01-31T23:45:00Z",
        "energy_net_kwh": 0.5,
        "energy_consumed_kwh": 0.75,
        "energy_generated_kwh": 0.25,
        "final": True,
    }
    first = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query={**query, "page_size": "3"}).json
    rest = invoke_uploads(
        "GET",
        f"/v2/meters/{meter_id}/intervals",
        query={**query, "page_size": "3", "page_token": first["next_page_token"]},
    ).json
    assert first["intervals"] + rest["intervals"] == intervals and "next_page_token" not in rest


def test_bad_interval_reads_are_a_400(invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset) -> None:
    meter_id = create_meter(invoke, make_asset, "bad-read")
    day = {"start": "2025-02-01T00:00:00Z", "end": "2025-02-02T00:00:00Z"}
    for query, field in [
        ({"end": "2025-02-01T00:00:00Z"}, "start"),
        ({"start": "2025-02-01T00:00:00Z"}, "end"),
        ({"start": "2025-02-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, "end"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2025-03-01T00:00:00Z"}, "end"),
        ({"start": "2025-02-01", "end": "2025-02-02T00:00:00Z"}, "start"),
        ({**day, "page_size": "9601"}, "page_size"),
        ({**day, "page_token": "forged"}, "page_token"),
    ]:
        assert_error(invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query), 400, field)
    assert_error(invoke_uploads("GET", "/v2/meters/not-a-meter/intervals", query=day), 400, "meter_id")
    assert_error(invoke_uploads("GET", f"/v2/meters/{uuid.uuid4()}/intervals", query=day), 404, "meter_id")


def test_the_gap_search_lists_missing_ranges_since_creation(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey
) -> None:
    # Given a meter created three days ago (09:05) with data for the whole of the day before yesterday
    today = datetime.now(UTC).date()
    meter_id = create_meter(invoke, make_asset, "gappy")
    created = datetime(today.year, today.month, today.day, 9, 5, tzinfo=UTC) - timedelta(days=3)
    backdate(partner.partner_id, meter_id, created)
    store_day(partner.partner_id, meter_id, today - timedelta(days=2), range(96))
    # When the partner searches up to the start of today
    body = {"missing_interval_window_end_date_time_utc": f"{today.isoformat()}T00:00:00Z"}
    answer = invoke_uploads("POST", GAPS, body)
    # Then two ranges are missing: from creation (rounded up) to midnight, and yesterday
    assert answer.status == 200, answer.text
    day = timedelta(days=1)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    expected = [
        (created + timedelta(minutes=10), midnight - 2 * day),
        (midnight - day, midnight),
    ]
    got = answer.json["missing_intervals"]
    assert [
        (datetime.fromisoformat(g["start_date_time_utc"]), datetime.fromisoformat(g["end_date_time_utc"])) for g in got
    ] == expected
    assert {(g["meter_id"], g["data_type"], g["status"]) for g in got} == {(meter_id, "LOAD_DATA", "OPEN")}
    deadline = datetime.fromisoformat(got[1]["submission_deadline_date_time_utc"])
    assert deadline == midnight + 3 * day
    # And a search without a body finds the same meter (its ranges run until now)
    assert {g["meter_id"] for g in invoke_uploads("POST", GAPS).json["missing_intervals"]} == {meter_id}


def test_bad_gap_searches_are_a_400(invoke_uploads: InvokeUploads) -> None:
    window_start = "missing_interval_window_start_date_time_utc"
    for body, field in [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"state": "CLOSED"}, "state"),
        ({"meter_ids": ["nope"]}, "meter_ids.0"),
        ({window_start: "2025-01-01"}, window_start),
        ({window_start: "2020-01-01T00:00:00Z"}, window_start),
        ({"page_token": "forged"}, "page_token"),
        ({"filters": {}}, "filters"),
    ]:
        assert_error(invoke_uploads("POST", GAPS, body), 400, field)
    response = invoke_uploads("POST", GAPS, raw_body="{not json")
    assert response.status == 400 and response.json["title"]


# ----- tenant isolation -----------------------------------------------------------------------------------
def test_another_partner_can_reach_none_of_this_partners_uploads_meters_or_gaps(
    invoke_uploads: InvokeUploads,
    invoke: Invoke,
    make_asset: MakeAsset,
    partner: IssuedKey,
    other_partner: IssuedKey,
) -> None:
    # Given an upload and a meter (with data and gaps) of the partner
    job_id = upload(invoke_uploads, file_name="mine.csv")
    meter_id = create_meter(invoke, make_asset, "mine")
    backdate(partner.partner_id, meter_id, datetime.now(UTC) - timedelta(days=2))
    store_day(partner.partner_id, meter_id, datetime.now(UTC).date() - timedelta(days=1), range(4))
    other = other_partner.partner_id
    # Then the other partner gets 404 for the job, its preview and its download
    for prefix in (f"{JOBS}/", f"{JOBS}/file-preview/", f"{JOBS}/presigned-url/"):
        assert_error(invoke_uploads("GET", f"{prefix}{job_id}", partner_id=other), 404, "job_id")
    # And lists no uploads, not even by the same path
    assert invoke_uploads("GET", JOBS, partner_id=other).json == {"uploads": []}
    assert invoke_uploads("GET", JOBS, query={"file_path": "/interval-data/mine.csv"}, partner_id=other).json == {
        "uploads": []
    }
    # And 404 for the meter's intervals
    query = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    assert_error(
        invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query, partner_id=other), 404, "meter_id"
    )
    # And no gaps, even when naming the meter
    assert invoke_uploads("POST", GAPS, {"meter_ids": [meter_id]}, partner_id=other).json == {"missing_intervals": []}
    assert invoke_uploads("POST", GAPS, {"meter_ids": [meter_id]}).json["missing_intervals"]
    # And the other partner's own upload of the same name lands in its own folder, leaving the first intact
    upload(invoke_uploads, "other\n", partner_id=other, file_name="mine.csv")
    mine = s3().get_object(Bucket=bucket(), Key=f"partners/{partner.partner_id}/interval-data/mine.csv")
    assert mine["Body"].read().decode() == CSV
    theirs = s3().get_object(Bucket=bucket(), Key=f"partners/{other}/interval-data/mine.csv")
    assert theirs["Body"].read() == b"other\n"
    # And the partner's upload URL and its job stay the partner's
    url_job = invoke_uploads("POST", UPLOAD_URL, {"schema": "load"}, partner_id=other).json["job_id"]
    assert_error(invoke_uploads("GET", f"{JOBS}/{url_job}"), 404, "job_id")


# ----- sample events --------------------------------------------------------------------------------------
EVENTS = sorted((ROOT / "events" / "interval_uploads_api").glob("*.json"))


def test_every_route_has_a_sample_event() -> None:
    routes = load_template(ROOT / "template.yaml").routes
    declared = {(r.method, r.path) for r in routes if r.function_id == "IntervalUploadsApiFunction"}
    sampled = {(e["httpMethod"], e["resource"]) for e in (json.loads(f.read_text(encoding="utf-8")) for f in EVENTS)}
    assert sampled == declared


@pytest.mark.pristine_aws  # sample events name fixed ids
def test_every_sample_event_is_answered(
    aws: Any, lambda_context: Any, load_function: Callable[[str], ModuleType]
) -> None:
    for event_file in EVENTS:
        answer_sample_event(lambda_context, load_function, event_file)


def answer_sample_event(lambda_context: Any, load_function: Callable[[str], ModuleType], event_file: Path) -> None:
    # Given the handler and a sample event; ids in its path are made real first (a job through the upload
    # event of this function, a meter through the meters API's create event)
    handler = load_function("functions/interval_uploads_api/app.py").lambda_handler
    event = json.loads(event_file.read_text(encoding="utf-8"))
    creators = {
        "job_id": (handler, "interval_uploads_api/upload_interval_data.json", "job_id"),
        "meter_id": (
            load_function("functions/meters_api/app.py").lambda_handler,
            "meters_api/create_meter.json",
            "meter_id",
        ),
    }
    for name, (create_with, creator, answer_field) in creators.items():
        old = (event.get("pathParameters") or {}).get(name)
        if old:
            create = json.loads((ROOT / "events" / creator).read_text(encoding="utf-8"))
            created = json.loads(create_with(create, lambda_context)["body"])[answer_field]
            event["path"] = event["path"].replace(old, created)
            event["pathParameters"][name] = created
    # When it is invoked
    result = handler(event, lambda_context)
    # Then it answers as the route promises
    if event_file.stem == "download_interval_data_upload":
        headers = {**result.get("headers", {}), **{k: v[0] for k, v in result.get("multiValueHeaders", {}).items()}}
        assert result["statusCode"] == 302 and headers["Location"].startswith("https://"), event_file.name
    else:
        assert result["statusCode"] in {200, 201}, (event_file.name, result["body"])
        assert json.loads(result["body"])


# ----- parameter shapes declared on the routes (openapi.json carries them) -----------------------------------
ROUTE_REFUSAL = "Invalid request"
"""The title of the resolver's 400 for a parameter the route refuses before any use case runs."""


def refused_by_the_route(response: Result, field: str, description: str) -> None:
    assert response.status == 400, response.text
    assert response.json == {"title": ROUTE_REFUSAL, "status": 400, "details": {field: description}}


@pytest.mark.parametrize(
    ("query", "field", "refusal"),
    [
        ({"page_size": "1"}, "page_size", None),
        ({"page_size": "500"}, "page_size", None),
        ({"page_size": "0"}, "page_size", "must be at least 1"),
        ({"page_size": "501"}, "page_size", "must be at most 500"),
        ({"file_path": "/interval-data/" + "a" * 1009}, "file_path", None),
        ({"file_path": "/interval-data/" + "a" * 1010}, "file_path", "must be at most 1024 characters"),
        ({"file_path": "interval-data/a.csv"}, "file_path", r"must match ^/interval-data/[A-Za-z0-9._/ -]+$"),
        ({"file_path": "/elsewhere/a.csv"}, "file_path", r"must match ^/interval-data/[A-Za-z0-9._/ -]+$"),
        ({"file_path": "/interval-data/a;b.csv"}, "file_path", r"must match ^/interval-data/[A-Za-z0-9._/ -]+$"),
        ({"page_token": "A" * 2049}, "page_token", "must be at most 2048 characters"),
    ],
)
def test_the_upload_list_bounds_its_parameters(
    invoke_uploads: InvokeUploads, query: dict[str, str], field: str, refusal: str | None
) -> None:
    response = invoke_uploads("GET", JOBS, query=query)
    if refusal is None:
        assert (response.status, response.json["uploads"]) == (200, []), response.text
    else:
        refused_by_the_route(response, field, refusal)


def test_the_longest_page_token_reaches_the_use_case(invoke_uploads: InvokeUploads) -> None:
    response = invoke_uploads("GET", JOBS, query={"page_token": "A" * 2048})
    assert response.status == 400, response.text
    assert response.json["title"] == "page_token is not a token this API issued"


@pytest.mark.parametrize(
    ("page_size", "refusal"),
    [("1", None), ("9600", None), ("0", "must be at least 1"), ("9601", "must be at most 9600")],
)
def test_the_interval_read_bounds_page_size(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, page_size: str, refusal: str | None
) -> None:
    meter_id = create_meter(invoke, make_asset, "bounded-read")
    query = {"start": "2025-02-01T00:00:00Z", "end": "2025-02-02T00:00:00Z", "page_size": page_size}
    response = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query)
    if refusal is None:
        assert (response.status, response.json["intervals"]) == (200, []), response.text
    else:
        refused_by_the_route(response, "page_size", refusal)
    too_long = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query={**query, "page_token": "A" * 2049})
    if refusal is None:
        refused_by_the_route(too_long, "page_token", "must be at most 2048 characters")


def test_ids_are_documented_uuids_the_route_does_not_refuse(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # An upper-case job id or meter id still finds its job or meter: uuid.UUID reads it, where a pattern would not
    job_id = upload(invoke_uploads)
    assert invoke_uploads("GET", f"{JOBS}/{job_id.upper()}").json["job_id"] == job_id
    meter_id = create_meter(invoke, make_asset, "upper-case")
    day = {"start": "2025-02-01T00:00:00Z", "end": "2025-02-02T00:00:00Z"}
    assert invoke_uploads("GET", f"/v2/meters/{meter_id.upper()}/intervals", query=day).status == 200


@pytest.mark.parametrize(("name", "status"), [("a" * 196 + ".csv", 200), ("a" * 197 + ".csv", 400)])
def test_the_upload_file_name_pattern_is_documented_and_refused_in_words(
    invoke_uploads: InvokeUploads, name: str, status: int
) -> None:
    response = invoke_uploads(
        "POST", UPLOAD, raw_body=CSV, content_type="text/csv", query={"schema": "load", "file_name": name}
    )
    assert response.status == status, response.text
    if status == 400:
        assert response.json["title"] == "Invalid file_name"
        assert response.json["details"]["file_name"].startswith("at most 200 characters")
