"""meterhub.intervals.use_cases (upload, upload_jobs, files, reads, gaps) on the InMemory fakes: upload and
upload URL, the job list and job, file preview and download, stored-interval read-back and the gap search, with
every bad input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from meterhub.intervals.api_models import DownloadFile, SearchMissingIntervalDataRequest, UploadUrlRequest
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.paths import FILE_NAME
from meterhub.intervals.rules.slots import DaySlots, ceil_slot, floor_slot
from meterhub.intervals.use_cases.files import PREVIEW_LINE_BYTES, download_url, preview_upload
from meterhub.intervals.use_cases.gaps import missing_ranges, search_missing_intervals
from meterhub.intervals.use_cases.reads import read_intervals
from meterhub.intervals.use_cases.upload import MAX_UPLOAD_BYTES, request_upload_url, upload_file
from meterhub.intervals.use_cases.upload_jobs import get_upload, list_uploads
from meterhub.meters.records import MeterRecord
from meterhub.platform import page_tokens
from meterhub.platform.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    UnsupportedMediaType,
)
from pydantic import ValidationError

from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore

pytestmark = pytest.mark.usefixtures("no_network")

ACME = str(uuid.UUID(int=1))
BOREALIS = str(uuid.UUID(int=2))
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CSV = b"meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh\n"


@pytest.fixture
def uploads() -> InMemoryUploadRepository:
    return InMemoryUploadRepository()


@pytest.fixture
def objects() -> InMemoryObjectStore:
    return InMemoryObjectStore()


@pytest.fixture
def meters() -> InMemoryMeterRepository:
    return InMemoryMeterRepository()


@pytest.fixture
def store() -> InMemoryIntervalStore:
    return InMemoryIntervalStore()


def details(error: pytest.ExceptionInfo[DomainError]) -> dict[str, Any]:
    assert isinstance(error.value.details, dict)
    return error.value.details


def upload(
    uploads: InMemoryUploadRepository,
    objects: InMemoryObjectStore,
    body: bytes = CSV,
    *,
    partner_id: str = ACME,
    file_name: str | None = None,
    now: datetime = T0,
) -> str:
    answer = upload_file(uploads, objects, partner_id, body, "text/csv", schema="load", file_name=file_name, now=now)
    return str(answer.job_id)


def job(job_id: str, *, partner_id: str = ACME, at: datetime = T0, **fields: Any) -> UploadJob:
    name = fields.pop("name", f"{job_id[:8]}.csv")
    return UploadJob(
        job_id=job_id,
        partner_id=partner_id,
        uploaded_file_path=f"/interval-data/{name}",
        current_file_path=fields.pop("current_file_path", f"/interval-data/{name}"),
        object_key=f"partners/{partner_id}/interval-data/{name}",
        uploaded_at=at,
        updated_at=at,
        **fields,
    )


def new_id(n: int) -> str:
    return str(uuid.UUID(int=1000 + n))


# ----- upload ---------------------------------------------------------------------------------------------
class RecordingStore(InMemoryObjectStore):
    """Remembers whether the job existed when the file was stored (the pipeline needs it first)."""

    def __init__(self, uploads: InMemoryUploadRepository) -> None:
        super().__init__()
        self.uploads = uploads
        self.job_seen: UploadJob | None = None

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        self.job_seen = self.uploads.get(ACME, (metadata or {})["job-id"])
        super().put(key, body, content_type, metadata)


def test_upload_creates_the_queued_job_before_storing_the_file_with_its_job_id(
    uploads: InMemoryUploadRepository,
) -> None:
    # Given an object store that records what the job store held when the file arrived
    objects = RecordingStore(uploads)
    # When a file is uploaded under a name
    job_id = upload(uploads, objects, file_name="2025-01-31.csv")
    # Then the job existed, QUEUED, before the file was stored
    assert objects.job_seen is not None and objects.job_seen.status is UploadStatus.QUEUED
    stored = uploads.get(ACME, job_id)
    assert stored is not None
    key = f"partners/{ACME}/interval-data/2025-01-31.csv"
    assert (stored.uploaded_file_path, stored.current_file_path) == ("/interval-data/2025-01-31.csv",) * 2
    assert (stored.object_key, stored.uploaded_at) == (key, T0)
    # And the file sits at the drop key with the job id as metadata
    assert objects.objects[key] == CSV
    assert objects.metadata[key] == {"job-id": job_id}


def test_upload_without_a_name_is_named_after_its_job(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    job_id = upload(uploads, objects)
    assert f"partners/{ACME}/interval-data/upload-{job_id}.csv" in objects.objects


def test_the_same_name_twice_is_two_jobs_and_the_newer_file(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    first = upload(uploads, objects, b"a\n1\n", file_name="day.csv")
    second = upload(uploads, objects, b"a\n2\n", file_name="day.csv")
    assert first != second
    assert objects.objects[f"partners/{ACME}/interval-data/day.csv"] == b"a\n2\n"
    assert objects.metadata[f"partners/{ACME}/interval-data/day.csv"] == {"job-id": second}


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "TEXT/CSV", "application/csv"])
def test_upload_accepts_csv_media_types(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, content_type: str
) -> None:
    upload_file(uploads, objects, ACME, CSV, content_type, schema="load")
    assert len(objects.objects) == 1


@pytest.mark.parametrize("schema", ["load", "LOAD", " load "])
def test_upload_accepts_the_load_schema(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, schema: str
) -> None:
    upload_file(uploads, objects, ACME, CSV, "text/csv", schema=schema)
    assert len(uploads.by_id) == 1


@pytest.mark.parametrize("schema", ["runtime", "performance", "csv"])
def test_other_schemas_are_a_400_saying_only_load_is_supported(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, schema: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        upload_file(uploads, objects, ACME, CSV, "text/csv", schema=schema)
    assert "only load is supported" in details(error)["schema"]
    assert not uploads.by_id and not objects.objects


@pytest.mark.parametrize("schema", [None, "", "  "])
def test_a_missing_schema_is_a_400(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, schema: str | None
) -> None:
    with pytest.raises(InvalidInput) as error:
        upload_file(uploads, objects, ACME, CSV, "text/csv", schema=schema)
    assert "required" in details(error)["schema"]


@pytest.mark.parametrize("content_type", [None, "", "application/json", "text/plain", "multipart/form-data"])
def test_other_content_types_are_a_415(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, content_type: str | None
) -> None:
    with pytest.raises(UnsupportedMediaType) as error:
        upload_file(uploads, objects, ACME, CSV, content_type, schema="load")
    assert "text/csv" in details(error)["content-type"]
    assert not uploads.by_id


def test_an_empty_body_is_a_400(uploads: InMemoryUploadRepository, objects: InMemoryObjectStore) -> None:
    with pytest.raises(InvalidInput) as error:
        upload_file(uploads, objects, ACME, b"", "text/csv", schema="load")
    assert "body" in details(error)
    assert not uploads.by_id


def test_a_body_over_5_mb_is_a_413_pointing_to_the_upload_url(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    upload_file(uploads, objects, ACME, b"x" * MAX_UPLOAD_BYTES, "text/csv", schema="load")
    with pytest.raises(PayloadTooLarge) as error:
        upload_file(uploads, objects, ACME, b"x" * (MAX_UPLOAD_BYTES + 1), "text/csv", schema="load")
    assert "/v1.1/interval-data/upload-url" in details(error)["body"]
    assert len(uploads.by_id) == 1


@pytest.mark.parametrize("name", ["a/b.csv", "../x.csv", ".hidden.csv", "x" * 201, "", "naïve.csv", "a\nb"])
def test_an_invalid_file_name_is_a_400(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, name: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        upload_file(uploads, objects, ACME, CSV, "text/csv", schema="load", file_name=name)
    assert "file_name" in details(error)
    assert not objects.objects


class FailingStore(InMemoryObjectStore):
    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        raise ConnectionError("S3 is down")


def test_a_file_that_cannot_be_stored_fails_its_job_and_asks_for_a_retry(uploads: InMemoryUploadRepository) -> None:
    with pytest.raises(StorageUnavailable):
        upload_file(uploads, FailingStore(), ACME, CSV, "text/csv", schema="load")
    [stored] = uploads.by_id.values()
    assert stored.status is UploadStatus.FAILED
    assert stored.failure_reason and "upload it again" in stored.failure_reason


# ----- upload URL -----------------------------------------------------------------------------------------
class PresignRecorder(InMemoryObjectStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int, str, dict[str, str]]] = []

    def presigned_put(self, key: str, seconds: int, content_type: str, metadata: Mapping[str, str]) -> str:
        self.calls.append((key, seconds, content_type, dict(metadata)))
        return super().presigned_put(key, seconds, content_type, metadata)


def test_upload_url_queues_a_job_and_signs_a_put_carrying_its_id(uploads: InMemoryUploadRepository) -> None:
    objects = PresignRecorder()
    request = UploadUrlRequest.model_validate({"file_name": "2025-01.csv", "schema": "load"})
    answer = request_upload_url(uploads, objects, ACME, request, now=T0)
    job_id = str(answer.job_id)
    key = f"partners/{ACME}/interval-data/2025-01.csv"
    assert objects.calls == [(key, 900, "text/csv", {"job-id": job_id})]
    assert answer.method == "PUT" and answer.expires_in_seconds == 900
    assert answer.headers == {"Content-Type": "text/csv", "x-amz-meta-job-id": job_id}
    assert answer.uploaded_file_path == "/interval-data/2025-01.csv"
    assert answer.upload_url.startswith(f"memory://{key}")
    stored = uploads.get(ACME, job_id)
    assert stored is not None and stored.status is UploadStatus.QUEUED and stored.object_key == key


def test_upload_url_without_a_name_is_named_after_its_job(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    answer = request_upload_url(uploads, objects, ACME, UploadUrlRequest.model_validate({"schema": "load"}))
    assert answer.uploaded_file_path == f"/interval-data/upload-{answer.job_id}.csv"


def test_upload_url_for_another_schema_is_a_400(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    request = UploadUrlRequest.model_validate({"file_name": "a.csv", "schema": "runtime"})
    with pytest.raises(InvalidInput) as error:
        request_upload_url(uploads, objects, ACME, request)
    assert "only load" in details(error)["schema"]
    assert not uploads.by_id


def test_the_request_model_takes_file_names_as_the_drop_paths_do() -> None:
    assert UploadUrlRequest.model_json_schema()["properties"]["file_name"]["anyOf"][0]["pattern"] == FILE_NAME.pattern


# ----- job list -------------------------------------------------------------------------------------------
def seed_jobs(uploads: InMemoryUploadRepository) -> list[str]:
    """Five jobs an hour apart (newest last), alternating COMPLETED / FAILED, two under the same name."""
    ids = [new_id(n) for n in range(5)]
    for n, job_id in enumerate(ids):
        status = UploadStatus.COMPLETED if n % 2 == 0 else UploadStatus.FAILED
        name = "same.csv" if n in {1, 3} else f"f{n}.csv"
        uploads.create(job(job_id, at=T0 + timedelta(hours=n), status=status, name=name, rows_total=10 * n))
    uploads.create(job(new_id(99), partner_id=BOREALIS, at=T0 + timedelta(hours=9)))
    return ids


def listed_ids(response: Any) -> list[str]:
    return [str(u.last_job_id) for u in response.uploads]


def test_the_list_is_this_partners_uploads_newest_first_with_leaps_fields(uploads: InMemoryUploadRepository) -> None:
    ids = seed_jobs(uploads)
    uploads.save(
        job(
            ids[4],
            at=T0 + timedelta(hours=4),
            status=UploadStatus.FAILED,
            name="f4.csv",
            current_file_path="/interval-data/failed/f4.csv/f4.csv",
            error_csv_file_path=f"/interval-data/failed/f4.csv/{ids[4]}.errors.csv",
            feedback_file_path=f"/interval-data/failed/f4.csv/{ids[4]}.feedback",
            rows_total=7,
            rows_invalid=2,
            rows_valid=5,
            errors_total=3,
        )
    )
    response = list_uploads(uploads, ACME)
    assert listed_ids(response) == ids[::-1]
    assert response.next_page_token is None
    newest = response.uploads[0]
    assert newest.uploaded_file_path == "/interval-data/f4.csv"
    assert newest.current_file_path == "/interval-data/failed/f4.csv/f4.csv"
    assert newest.error_csv_file_path == f"/interval-data/failed/f4.csv/{ids[4]}.errors.csv"
    assert newest.feedback_csv_file_path == f"/interval-data/failed/f4.csv/{ids[4]}.feedback"
    assert (newest.rows_total, newest.rows_valid, newest.rows_invalid, newest.errors_total) == (7, 5, 2, 3)
    assert newest.uploaded_at_date_time == T0 + timedelta(hours=4)


def test_the_list_filters_by_time_path_and_status(uploads: InMemoryUploadRepository) -> None:
    ids = seed_jobs(uploads)
    between = list_uploads(uploads, ACME, from_=T0 + timedelta(hours=1), to=T0 + timedelta(hours=3))
    assert listed_ids(between) == [ids[3], ids[2], ids[1]]  # inclusive bounds
    assert listed_ids(list_uploads(uploads, ACME, file_path="/interval-data/same.csv")) == [ids[3], ids[1]]
    assert listed_ids(list_uploads(uploads, ACME, status=UploadStatus.FAILED)) == [ids[3], ids[1]]
    assert listed_ids(list_uploads(uploads, ACME, file_path="/interval-data/none.csv")) == []
    assert listed_ids(list_uploads(uploads, BOREALIS)) == [new_id(99)]


def test_the_list_pages_with_tokens_bound_to_their_filters(uploads: InMemoryUploadRepository) -> None:
    ids = seed_jobs(uploads)
    first = list_uploads(uploads, ACME, page_size=2)
    second = list_uploads(uploads, ACME, page_size=2, page_token=first.next_page_token)
    third = list_uploads(uploads, ACME, page_size=2, page_token=second.next_page_token)
    assert [listed_ids(p) for p in (first, second, third)] == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    assert third.next_page_token is None
    with pytest.raises(InvalidInput) as error:
        list_uploads(uploads, ACME, status=UploadStatus.FAILED, page_token=first.next_page_token)
    assert "page_token" in details(error)
    with pytest.raises(InvalidInput):
        list_uploads(uploads, ACME, page_token="not-a-token")


def test_the_list_defaults_to_50_per_page(uploads: InMemoryUploadRepository) -> None:
    for n in range(51):
        uploads.create(job(new_id(n), at=T0 + timedelta(minutes=n)))
    response = list_uploads(uploads, ACME)
    assert len(response.uploads) == 50 and response.next_page_token


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"from_": T0, "to": T0 - timedelta(seconds=1)}, "to"),
        ({"from_": datetime(2025, 1, 1)}, "from"),  # naive on purpose
        ({"to": datetime(2025, 1, 1)}, "to"),  # naive
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_field(
    uploads: InMemoryUploadRepository, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        list_uploads(uploads, ACME, **arguments)
    assert field in details(error)


# ----- one job --------------------------------------------------------------------------------------------
def failed_job(job_id: str, errors: int) -> UploadJob:
    listed = [{"line": n + 2, "column": "meter_id", "code": "MTR_0002", "message": f"row {n}"} for n in range(errors)]
    return job(
        job_id,
        status=UploadStatus.FAILED,
        name="bad.csv",
        current_file_path="/interval-data/failed/bad.csv/bad.csv",
        error_csv_file_path=f"/interval-data/failed/bad.csv/{job_id}.errors.csv",
        error_summary=[{"column": "meter_id", "code": "MTR_0002", "count": errors}, {"code": "FIL_0001", "count": 1}],
        errors=listed[:100] + [{"line": 1, "code": "FIL_0001", "message": "no rows"}][: 100 - min(errors, 100)],
        errors_total=errors + 1,
        rows_total=errors,
        rows_invalid=errors,
    )


def test_a_job_shows_its_errors_summary_and_error_file(uploads: InMemoryUploadRepository) -> None:
    job_id = new_id(1)
    uploads.create(failed_job(job_id, 3))
    answer = get_upload(uploads, ACME, job_id.upper())
    assert str(answer.job_id) == job_id and answer.status is UploadStatus.FAILED
    assert answer.error_csv_file_path == f"/interval-data/failed/bad.csv/{job_id}.errors.csv"
    assert [(s.column, s.code, s.count) for s in answer.error_summary] == [
        ("meter_id", "MTR_0002", 3),
        (None, "FIL_0001", 1),
    ]
    assert [(e.line, e.column, e.code) for e in answer.errors][:2] == [
        (2, "meter_id", "MTR_0002"),
        (3, "meter_id", "MTR_0002"),
    ]
    assert answer.errors[-1].column is None
    assert (answer.errors_total, answer.errors_truncated) == (4, False)
    assert (answer.rows_total, answer.rows_invalid) == (3, 3)


def test_a_job_with_more_errors_than_kept_says_so(uploads: InMemoryUploadRepository) -> None:
    uploads.create(failed_job(new_id(1), 250))
    answer = get_upload(uploads, ACME, new_id(1))
    assert len(answer.errors) == 100
    assert (answer.errors_total, answer.errors_truncated) == (251, True)


def test_a_queued_job_has_no_errors(uploads: InMemoryUploadRepository, objects: InMemoryObjectStore) -> None:
    answer = get_upload(uploads, ACME, upload(uploads, objects))
    assert answer.status is UploadStatus.QUEUED
    assert (answer.errors, answer.error_summary, answer.errors_total, answer.errors_truncated) == ([], [], 0, False)
    assert answer.error_csv_file_path is None


def test_another_partners_job_and_an_unknown_job_are_404(uploads: InMemoryUploadRepository) -> None:
    uploads.create(job(new_id(1), partner_id=BOREALIS))
    for job_id in (new_id(1), new_id(2)):
        with pytest.raises(NotFound) as error:
            get_upload(uploads, ACME, job_id)
        assert details(error) == {"job_id": job_id}


@pytest.mark.parametrize("job_id", ["abc", "1234", "", "c09240ce-8942-4eaf-a642-1c728e8d61aZ"])
def test_a_malformed_job_id_is_a_400(uploads: InMemoryUploadRepository, job_id: str) -> None:
    for read in (
        lambda: get_upload(uploads, ACME, job_id),
        lambda: preview_upload(uploads, InMemoryObjectStore(), ACME, job_id),
        lambda: download_url(uploads, InMemoryObjectStore(), ACME, job_id),
    ):
        with pytest.raises(InvalidInput) as error:
            read()
        assert "job_id" in details(error)


# ----- preview --------------------------------------------------------------------------------------------
class CountingStore(InMemoryObjectStore):
    """Hands out the object in small chunks and counts how many were read."""

    def __init__(self, chunk: int = 64) -> None:
        super().__init__()
        self.chunk = chunk
        self.read = 0

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if key not in self.objects:
            raise NotFound("File not found", {"key": key})
        body = self.objects[key]
        for start in range(0, len(body), self.chunk):
            self.read += 1
            yield body[start : start + self.chunk]


def lines_file(count: int, *, newline: bytes = b"\n", trailing: bool = True) -> bytes:
    rows = [b"meter_id,interval_start_time_utc"] + [f"m{n},2025-01-01T00:00:00Z".encode() for n in range(1, count)]
    return newline.join(rows) + (newline if trailing else b"")


def preview(uploads: InMemoryUploadRepository, objects: InMemoryObjectStore, body: bytes) -> Any:
    return preview_upload(uploads, objects, ACME, upload(uploads, objects, body))


def test_the_preview_is_the_first_20_lines_header_first_and_reads_no_further(uploads: InMemoryUploadRepository) -> None:
    objects = CountingStore()
    body = lines_file(10_000)
    answer = preview(uploads, objects, body)
    assert answer.file_data[0] == "meter_id,interval_start_time_utc"
    assert answer.file_data[1:3] == ["m1,2025-01-01T00:00:00Z", "m2,2025-01-01T00:00:00Z"]
    assert len(answer.file_data) == 20 and answer.is_limited is True
    assert objects.read * objects.chunk < 2_000 < len(body)  # streamed: only the first chunks were read
    assert answer.status is UploadStatus.QUEUED and answer.created_at == T0 and answer.updated_at == T0


@pytest.mark.parametrize("trailing", [True, False])
def test_a_file_of_exactly_20_lines_is_not_limited(uploads: InMemoryUploadRepository, trailing: bool) -> None:
    answer = preview(uploads, CountingStore(chunk=7), lines_file(20, trailing=trailing))
    assert len(answer.file_data) == 20 and answer.is_limited is False


def test_a_21_line_file_is_limited_even_when_the_20th_line_ends_a_chunk(uploads: InMemoryUploadRepository) -> None:
    body = lines_file(21)
    twentieth_end = len(lines_file(20))
    answer = preview(uploads, CountingStore(chunk=twentieth_end), body)
    assert len(answer.file_data) == 20 and answer.is_limited is True


def test_the_preview_drops_the_bom_and_crlf_and_keeps_blank_lines(uploads: InMemoryUploadRepository) -> None:
    body = b"\xef\xbb\xbfmeter_id,final\r\nm1,true\r\n\r\nm2,caf\xc3\xa9\r\n"
    answer = preview(uploads, InMemoryObjectStore(), body)
    assert answer.file_data == ["meter_id,final", "m1,true", "", "m2,café"]
    assert answer.is_limited is False


def test_the_preview_cuts_a_huge_line_and_says_it_is_limited(uploads: InMemoryUploadRepository) -> None:
    objects = CountingStore(chunk=1024)
    answer = preview(uploads, objects, b"meter_id\n" + b"x" * 100_000 + b"\nm1\n")
    assert answer.file_data == ["meter_id", "x" * PREVIEW_LINE_BYTES]
    assert answer.is_limited is True
    assert objects.read < 10


def test_the_preview_of_a_line_without_any_newline_is_cut(uploads: InMemoryUploadRepository) -> None:
    answer = preview(uploads, InMemoryObjectStore(), b"\x1f\x8b" + b"\x00" * 10_000)
    assert len(answer.file_data) == 1 and len(answer.file_data[0]) <= PREVIEW_LINE_BYTES
    assert answer.is_limited is True


class MovingStore(InMemoryObjectStore):
    """The pipeline moves the file (and updates the job) between the job read and the file read."""

    def __init__(self, uploads: InMemoryUploadRepository) -> None:
        super().__init__()
        self.uploads = uploads
        self.moved = False

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if not self.moved:
            self.moved = True
            for (partner_id, _), stored in list(self.uploads.by_id.items()):
                target = f"/interval-data/accepted/{stored.uploaded_file_path.rsplit('/', 1)[1]}/x.csv"
                self.move(stored.object_key, f"partners/{partner_id}{target}")
                self.uploads.save(
                    stored.model_copy(update={"current_file_path": target, "status": UploadStatus.COMPLETED})
                )
        return super().chunks(key, version)


def test_the_preview_follows_a_file_the_pipeline_moved_meanwhile(uploads: InMemoryUploadRepository) -> None:
    objects = MovingStore(uploads)
    answer = preview(uploads, objects, b"h\nr\n")
    assert answer.file_data == ["h", "r"] and answer.status is UploadStatus.COMPLETED


def test_the_preview_of_a_job_whose_file_never_came_is_404(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    answer = request_upload_url(uploads, objects, ACME, UploadUrlRequest.model_validate({"schema": "load"}))
    with pytest.raises(NotFound) as error:
        preview_upload(uploads, objects, ACME, str(answer.job_id))
    assert error.value.title == "No file has been uploaded for this job yet"
    assert details(error) == {"job_id": str(answer.job_id)}  # never the bucket key


def test_the_preview_of_a_file_that_is_gone_is_404(uploads: InMemoryUploadRepository) -> None:
    uploads.create(job(new_id(1), status=UploadStatus.COMPLETED))
    with pytest.raises(NotFound) as error:
        preview_upload(uploads, InMemoryObjectStore(), ACME, new_id(1))
    assert error.value.title == "The job's file is not available"


@pytest.mark.parametrize("path", ["/interval-data/../../other/x.csv", "/elsewhere/x.csv", "/interval-data//x.csv"])
def test_a_job_path_outside_the_drop_folder_is_never_read(uploads: InMemoryUploadRepository, path: str) -> None:
    objects = InMemoryObjectStore()
    objects.put(f"partners/{ACME}{path}", b"secret\n", "text/csv")
    uploads.create(job(new_id(1), current_file_path=path))
    with pytest.raises(NotFound):
        preview_upload(uploads, objects, ACME, new_id(1))
    with pytest.raises(NotFound):
        download_url(uploads, objects, ACME, new_id(1))


def test_another_partners_job_has_no_preview_or_download(
    uploads: InMemoryUploadRepository, objects: InMemoryObjectStore
) -> None:
    job_id = upload(uploads, objects, partner_id=BOREALIS)
    with pytest.raises(NotFound):
        preview_upload(uploads, objects, ACME, job_id)
    with pytest.raises(NotFound):
        download_url(uploads, objects, ACME, job_id)


# ----- download -------------------------------------------------------------------------------------------
class GetRecorder(InMemoryObjectStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int, str]] = []

    def presigned_get(self, key: str, seconds: int, file_name: str) -> str:
        self.calls.append((key, seconds, file_name))
        return super().presigned_get(key, seconds, file_name)


def test_the_download_is_a_5_minute_url_of_the_current_file(uploads: InMemoryUploadRepository) -> None:
    objects = GetRecorder()
    uploads.create(job(new_id(1), current_file_path='/interval-data/accepted/a"b.csv/a"b.csv'))
    url = download_url(uploads, objects, ACME, new_id(1))
    key = f'partners/{ACME}/interval-data/accepted/a"b.csv/a"b.csv'
    assert objects.calls == [(key, 300, "a_b.csv")]  # the name in Content-Disposition cannot break the header
    assert url.startswith("memory://")


def test_the_error_report_download_is_a_5_minute_url_of_the_errors_csv(uploads: InMemoryUploadRepository) -> None:
    objects = GetRecorder()
    uploads.create(failed_job(new_id(1), 3))
    download_url(uploads, objects, ACME, new_id(1), DownloadFile.ERRORS)
    download_url(uploads, objects, ACME, new_id(1))
    folder = f"partners/{ACME}/interval-data/failed/bad.csv"
    assert objects.calls == [
        (f"{folder}/{new_id(1)}.errors.csv", 300, f"{new_id(1)}.errors.csv"),
        (f"{folder}/bad.csv", 300, "bad.csv"),  # the default is still the original
    ]


@pytest.mark.parametrize("status", [UploadStatus.QUEUED, UploadStatus.PROCESSING, UploadStatus.COMPLETED])
def test_a_job_without_an_error_report_says_so_in_a_404(
    uploads: InMemoryUploadRepository, status: UploadStatus
) -> None:
    objects = GetRecorder()
    uploads.create(job(new_id(1), status=status))
    with pytest.raises(NotFound) as error:
        download_url(uploads, objects, ACME, new_id(1), DownloadFile.ERRORS)
    assert error.value.title.startswith("This job has no error report")
    assert details(error) == {"job_id": new_id(1), "status": status.value}
    assert objects.calls == []


def test_a_failed_job_without_an_error_report_is_a_404_too(uploads: InMemoryUploadRepository) -> None:
    # A file that failed as a whole (unreadable, no header) has a failure reason but no rows to report
    uploads.create(failed_job(new_id(1), 0).model_copy(update={"error_csv_file_path": None}))
    with pytest.raises(NotFound) as error:
        download_url(uploads, GetRecorder(), ACME, new_id(1), DownloadFile.ERRORS)
    assert details(error)["status"] == "FAILED"


def test_another_partners_error_report_is_404(uploads: InMemoryUploadRepository) -> None:
    objects = GetRecorder()
    uploads.create(failed_job(new_id(1), 3).model_copy(update={"partner_id": BOREALIS}))
    with pytest.raises(NotFound) as error:
        download_url(uploads, objects, ACME, new_id(1), DownloadFile.ERRORS)
    assert details(error) == {"job_id": new_id(1)}
    assert objects.calls == []


@pytest.mark.parametrize("path", ["/interval-data/../../other/x.errors.csv", "/elsewhere/x.errors.csv"])
def test_an_error_report_path_outside_the_drop_folder_is_never_signed(
    uploads: InMemoryUploadRepository, path: str
) -> None:
    objects = GetRecorder()
    uploads.create(failed_job(new_id(1), 3).model_copy(update={"error_csv_file_path": path}))
    with pytest.raises(NotFound):
        download_url(uploads, objects, ACME, new_id(1), DownloadFile.ERRORS)
    assert objects.calls == []


# ----- stored intervals -----------------------------------------------------------------------------------
def meter(
    meter_id: str,
    *,
    partner_id: str = ACME,
    region: str = "ISONE",
    meter_type: str = "DEVICE",
    created: datetime = T0,
    archived: bool = False,
) -> MeterRecord:
    return MeterRecord(
        meter_id=meter_id,
        partner_id=partner_id,
        partner_reference=f"ref-{meter_id[-4:]}",
        data={"transmission_region": region, "meter_type": meter_type, "customer_classification": "RESIDENTIAL"},
        created_at=created,
        updated_at=created,
        is_archived=archived,
    )


METER = str(uuid.UUID(int=7))


def day_with(slots: Mapping[int, tuple[float | None, bool]]) -> DaySlots:
    day = DaySlots.empty()
    for slot, (net, final) in slots.items():
        day.put(slot, net, None if net is None else net + 1, None if net is None else 1.0, final)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


D1, D2 = date(2025, 3, 1), date(2025, 3, 2)


@pytest.fixture
def stored(meters: InMemoryMeterRepository, store: InMemoryIntervalStore) -> None:
    meters.create(meter(METER))
    store.merge(ACME, METER, D1, day_with({0: (0.5, True), 4: (0.25, False), 95: (1.0, False)}))
    store.merge(ACME, METER, D2, day_with({0: (2.0, True), 1: (None, False)}))


def read(meters: InMemoryMeterRepository, store: InMemoryIntervalStore, **arguments: Any) -> Any:
    values = {"start": at(D1, 0), "end": at(D2, 12), **arguments}
    return read_intervals(meters, store, values.pop("partner_id", ACME), values.pop("meter_id", METER), **values)


@pytest.mark.usefixtures("stored")
def test_stored_intervals_come_back_in_time_order(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    answer = read(meters, store)
    assert str(answer.meter_id) == METER
    starts = [i.interval_start_time_utc for i in answer.intervals]
    assert starts == [at(D1, 0), at(D1, 1), at(D1, 23, 45), at(D2, 0), at(D2, 0, 15)]
    first = answer.intervals[0]
    assert first.interval_end_time_utc == at(D1, 0, 15)
    assert (first.energy_net_kwh, first.energy_consumed_kwh, first.energy_generated_kwh, first.final) == (
        0.5,
        1.5,
        1.0,
        True,
    )
    assert answer.intervals[1].final is False
    assert answer.intervals[-1].energy_net_kwh is None
    assert answer.next_page_token is None


@pytest.mark.usefixtures("stored")
def test_intervals_are_those_starting_in_start_to_end(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    answer = read(meters, store, start=at(D1, 0, 1), end=at(D2, 0))
    assert [i.interval_start_time_utc for i in answer.intervals] == [at(D1, 1), at(D1, 23, 45)]


@pytest.mark.usefixtures("stored")
def test_intervals_page_by_interval(meters: InMemoryMeterRepository, store: InMemoryIntervalStore) -> None:
    first = read(meters, store, page_size=2)
    second = read(meters, store, page_size=2, page_token=first.next_page_token)
    third = read(meters, store, page_size=2, page_token=second.next_page_token)
    starts = [[i.interval_start_time_utc for i in p.intervals] for p in (first, second, third)]
    assert starts == [[at(D1, 0), at(D1, 1)], [at(D1, 23, 45), at(D2, 0)], [at(D2, 0, 15)]]
    assert third.next_page_token is None
    with pytest.raises(InvalidInput) as error:
        read(meters, store, page_size=2, end=at(D2, 13), page_token=first.next_page_token)
    assert "page_token" in details(error)


@pytest.mark.usefixtures("stored")
def test_intervals_of_another_partners_meter_are_404(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    with pytest.raises(NotFound):
        read(meters, store, partner_id=BOREALIS)
    with pytest.raises(NotFound):
        read(meters, store, meter_id=str(uuid.UUID(int=8)))
    with pytest.raises(InvalidInput) as error:
        read(meters, store, meter_id="not-a-uuid")
    assert "meter_id" in details(error)


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"start": None}, "start"),
        ({"end": None}, "end"),
        ({"end": at(D1, 0)}, "end"),
        ({"end": at(D1, 0) - timedelta(minutes=15)}, "end"),
        ({"end": at(D1, 0) + timedelta(days=31, minutes=15)}, "end"),
        ({"start": datetime(2025, 3, 1)}, "start"),  # naive on purpose
        ({"page_token": "garbage"}, "page_token"),
    ],
)
def test_bad_interval_reads_are_a_400_naming_the_field(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        read(meters, store, **arguments)
    assert field in details(error)


@pytest.mark.usefixtures("stored")
def test_a_31_day_read_is_allowed(meters: InMemoryMeterRepository, store: InMemoryIntervalStore) -> None:
    assert len(read(meters, store, end=at(D1, 0) + timedelta(days=31)).intervals) == 5


# ----- gaps -----------------------------------------------------------------------------------------------
def test_missing_ranges_are_maximal_runs_across_days(store: InMemoryIntervalStore) -> None:
    # Given day 1 with slots 0-3 and 90-95 stored, nothing on day 2, day 3 with slots 0-1 stored
    store.merge(ACME, METER, D1, day_with({s: (1.0, True) for s in [0, 1, 2, 3, *range(90, 96)]}))
    store.merge(ACME, METER, date(2025, 3, 3), day_with({0: (1.0, True), 1: (1.0, True)}))
    # When the gaps from day 1 00:00 to day 3 01:00 are computed
    ranges = list(missing_ranges(store, ACME, METER, at(D1, 0), at(date(2025, 3, 3), 1)))
    # Then there are two: the middle of day 1, and day 2 into day 3 until its first stored slot
    assert ranges == [
        (at(D1, 1), at(D1, 22, 30)),
        (at(D2, 0), at(date(2025, 3, 3), 0)),
        (at(date(2025, 3, 3), 0, 30), at(date(2025, 3, 3), 1)),
    ]


def test_missing_ranges_respect_the_window_edges(store: InMemoryIntervalStore) -> None:
    store.merge(ACME, METER, D1, day_with({8: (1.0, True)}))
    assert list(missing_ranges(store, ACME, METER, at(D1, 1, 30), at(D1, 2, 45))) == [
        (at(D1, 1, 30), at(D1, 2)),
        (at(D1, 2, 15), at(D1, 2, 45)),
    ]
    assert list(missing_ranges(store, ACME, METER, at(D1, 2), at(D1, 2, 15))) == []
    assert list(missing_ranges(store, ACME, METER, at(D1, 3), at(D1, 3))) == []
    assert list(missing_ranges(store, ACME, METER, at(D1, 0), at(D2, 0))) == [
        (at(D1, 0), at(D1, 2)),
        (at(D1, 2, 15), at(D2, 0)),
    ]


NOW = at(date(2025, 3, 10), 12, 7)


def search(meters: InMemoryMeterRepository, store: InMemoryIntervalStore, partner_id: str = ACME, **body: Any) -> Any:
    request = SearchMissingIntervalDataRequest.model_validate(body) if body else None
    return search_missing_intervals(meters, store, partner_id, request, now=NOW)


def gaps(answer: Any) -> list[tuple[str, datetime, datetime]]:
    return [(str(g.meter_id)[-2:], g.start_date_time_utc, g.end_date_time_utc) for g in answer.missing_intervals]


def test_a_meter_without_data_is_missing_everything_since_its_creation(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    # Given a meter created at 09:07 on day 1 with no data, and a meter that got data for all of day 1
    meters.create(meter(str(uuid.UUID(int=11)), created=at(D1, 9, 7)))
    meters.create(meter(str(uuid.UUID(int=12)), created=at(D1, 0) + timedelta(microseconds=1)))
    store.merge(ACME, str(uuid.UUID(int=12)), D1, day_with({s: (1.0, True) for s in range(96)}))
    # When the partner searches without a body
    answer = search(meters, store)
    # Then the first meter misses from 09:15 (its creation, rounded up) until now rounded down,
    # the second from day 2 on; both OPEN load data with a deadline 3 days after the range
    assert gaps(answer) == [("0c", at(D2, 0), at(NOW.date(), 12)), ("0b", at(D1, 9, 15), at(NOW.date(), 12))]
    first = answer.missing_intervals[0]
    assert (first.data_type.value, first.status.value) == ("LOAD_DATA", "OPEN")
    assert first.submission_deadline_date_time_utc == at(NOW.date(), 12) + timedelta(days=3)
    assert answer.next_page_token is None


def test_only_own_active_meters_that_take_partner_data_have_gaps(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    meters.create(meter(str(uuid.UUID(int=21))))
    meters.create(meter(str(uuid.UUID(int=22)), region="CAISO", meter_type="UTILITY_METER"))
    meters.create(meter(str(uuid.UUID(int=23)), region="ERCOT"))
    meters.create(meter(str(uuid.UUID(int=24)), archived=True))
    meters.create(meter(str(uuid.UUID(int=25)), partner_id=BOREALIS))
    meters.create(meter(str(uuid.UUID(int=26)), region="MOON"))
    assert [g[0] for g in gaps(search(meters, store))] == ["15"]
    named = search(meters, store, meter_ids=[str(uuid.UUID(int=n)) for n in (21, 22, 25)])
    assert [g[0] for g in gaps(named)] == ["15"]  # another partner's meter is never searched, even by id
    assert [g[0] for g in gaps(search(meters, store, BOREALIS))] == ["19"]


def test_the_default_window_is_the_last_31_days(meters: InMemoryMeterRepository, store: InMemoryIntervalStore) -> None:
    meters.create(meter(METER, created=NOW - timedelta(days=400)))
    assert gaps(search(meters, store)) == [("07", at(NOW.date(), 12) - timedelta(days=31), at(NOW.date(), 12))]


def test_a_window_clips_the_ranges_and_never_reaches_the_future(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    meters.create(meter(METER, created=at(D1, 0)))
    store.merge(ACME, METER, D2, day_with({s: (1.0, True) for s in range(96)}))
    answer = search(
        meters,
        store,
        missing_interval_window_start_date_time_utc="2025-03-01T20:10:00Z",
        missing_interval_window_end_date_time_utc="2025-12-31T00:00:00Z",
    )
    assert gaps(answer) == [("07", at(D1, 20, 15), at(D2, 0)), ("07", at(date(2025, 3, 3), 0), at(NOW.date(), 12))]
    leap_names = search(
        meters, store, start_date_time_utc="2025-03-01T20:10:00Z", end_date_time_utc="2025-03-02T00:00:00Z"
    )
    assert gaps(leap_names) == [("07", at(D1, 20, 15), at(D2, 0))]
    only_end = search(meters, store, missing_interval_window_end_date_time_utc="2025-03-02T00:00:00Z")
    assert gaps(only_end) == [("07", at(D1, 0), at(D2, 0))]


def test_deadline_windows_and_state_filter_the_ranges(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    meters.create(meter(METER, created=at(D1, 0)))
    store.merge(ACME, METER, D2, day_with({s: (1.0, True) for s in range(96)}))
    # ranges: D1 (deadline D1+4d = 03-05 00:00) and 03-03..now (deadline 03-13 12:00)
    early = search(meters, store, submission_deadline_window_end_date_time_utc="2025-03-05T00:00:01Z")
    assert gaps(early) == [("07", at(D1, 0), at(D2, 0))]
    late = search(meters, store, submission_deadline_window_start_date_time_utc="2025-03-05T00:00:01Z")
    assert gaps(late) == [("07", at(date(2025, 3, 3), 0), at(NOW.date(), 12))]
    exclusive = search(meters, store, submission_deadline_window_end_date_time_utc="2025-03-05T00:00:00Z")
    assert gaps(exclusive) == []
    assert len(search(meters, store, state="OPEN").missing_intervals) == 2
    assert search(meters, store, state="PENDING").missing_intervals == []


def test_the_gap_search_pages_across_meters_and_within_one(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore
) -> None:
    # Given three meters, each with two gaps
    for n in (31, 32, 33):
        meter_id = str(uuid.UUID(int=n))
        meters.create(meter(meter_id, created=at(D1, 0) + timedelta(seconds=n)))
        store.merge(ACME, meter_id, D2, day_with({s: (1.0, True) for s in range(96)}))
    everything = gaps(search(meters, store))
    assert len(everything) == 6
    # When read two ranges at a time, then one at a time
    for size in (2, 1, 4):
        pages, token = [], None
        while True:
            answer = search(meters, store, page_size=size, **({"page_token": token} if token else {}))
            pages.extend(gaps(answer))
            token = answer.next_page_token
            if token is None:
                break
        # Then the pages hold every range once, in order
        assert pages == everything


def test_the_gap_search_resumes_across_meter_queries(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("meterhub.intervals.use_cases.gaps.METERS_PER_QUERY", 2)
    for n in range(40, 45):
        meters.create(meter(str(uuid.UUID(int=n)), created=at(D1, 0) + timedelta(seconds=n)))
    everything = gaps(search(meters, store))
    first = search(meters, store, page_size=3)
    second = search(meters, store, page_size=3, page_token=first.next_page_token)
    assert gaps(first) + gaps(second) == everything and second.next_page_token is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "missing_interval_window_start_date_time_utc": "2025-03-02T00:00:00Z",
                "missing_interval_window_end_date_time_utc": "2025-03-02T00:00:00Z",
            },
            "missing_interval_window_start_date_time_utc",
        ),
        (
            {
                "missing_interval_window_start_date_time_utc": "2024-01-01T00:00:00Z",
                "missing_interval_window_end_date_time_utc": "2025-03-02T00:00:00Z",
            },
            "missing_interval_window_start_date_time_utc",
        ),
        (
            {"missing_interval_window_start_date_time_utc": "2024-01-01T00:00:00Z"},
            "missing_interval_window_start_date_time_utc",
        ),
        (
            {
                "start_date_time_utc": "2025-03-01T00:00:00Z",
                "missing_interval_window_start_date_time_utc": "2025-03-01T00:00:00Z",
            },
            "start_date_time_utc",
        ),
        (
            {
                "end_date_time_utc": "2025-03-01T00:00:00Z",
                "missing_interval_window_end_date_time_utc": "2025-03-01T00:00:00Z",
            },
            "end_date_time_utc",
        ),
        (
            {
                "submission_deadline_window_start_date_time_utc": "2025-03-05T00:00:00Z",
                "submission_deadline_window_end_date_time_utc": "2025-03-04T00:00:00Z",
            },
            "submission_deadline_window_start_date_time_utc",
        ),
        ({"page_token": "garbage"}, "page_token"),
    ],
)
def test_bad_gap_searches_are_a_400_naming_the_field(
    meters: InMemoryMeterRepository, store: InMemoryIntervalStore, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        search(meters, store, **body)
    assert field in details(error)


def test_a_gap_token_only_serves_its_own_filters(meters: InMemoryMeterRepository, store: InMemoryIntervalStore) -> None:
    for n in (51, 52):
        meters.create(meter(str(uuid.UUID(int=n)), created=at(D1, 0) + timedelta(seconds=n)))
    token = search(meters, store, page_size=1).next_page_token
    assert token
    with pytest.raises(InvalidInput) as error:
        search(meters, store, page_size=1, page_token=token, state="OPEN")
    assert "page_token" in details(error)
    forged = page_tokens.encode("not json", page_tokens.fingerprint({}))
    with pytest.raises(InvalidInput):
        search(meters, store, page_token=forged)


@pytest.mark.parametrize(
    "body",
    [
        {"page_size": 0},
        {"page_size": 501},
        {"state": "PROCESSING"},
        {"meter_ids": ["nope"]},
        {"missing_interval_window_start_date_time_utc": "2025-03-01T00:00:00"},
        {"unknown": 1},
    ],
)
def test_the_gap_request_model_refuses_bad_fields(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        SearchMissingIntervalDataRequest.model_validate(body)
    assert error.value.errors()[0]["loc"][0] == next(iter(body))


def test_slot_rounding() -> None:
    assert floor_slot(at(D1, 9, 14) + timedelta(seconds=59)) == at(D1, 9)
    assert ceil_slot(at(D1, 9, 0) + timedelta(microseconds=1)) == at(D1, 9, 15)
    assert ceil_slot(at(D1, 9, 15)) == at(D1, 9, 15)
    assert ceil_slot(at(D1, 23, 50)) == at(D2, 0)
