"""Uploads: a file posted to the API, or a presigned URL to put a larger one; each starts a QUEUED job.

The ingest pipeline (S3 notification -> queue -> ingest function) does the work; this module only starts
it. Decisions, so the API docs and the tests say the same thing:

    * `POST /v1.1/interval-data?schema=load` takes the raw file (`text/csv` or `application/csv`, at most
      5 MB: Lambda takes at most 6 MB with the event around it, and a base64-encoded body grows by a third,
      so binary-typed bodies fail above ~4.4 MB); bigger files go through
      `POST /v1.1/interval-data/upload-url` (ours), a presigned PUT valid 15 minutes. Only `schema=load` is
      supported (Leap has not published the `runtime` and `performance` columns).
    * The job is created QUEUED *before* the file is stored at `partners/<pid>/interval-data/<file_name>`
      with the S3 metadata `job-id`: the pipeline then finds the job the notification belongs to. The same
      file name again is a new job and a new version of the object (the bucket is versioned).
    * A presigned-URL job whose file never arrives stays QUEUED (its preview answers 404 until then).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from meterhub.intervals.api_models import IngestionResponse, UploadUrlRequest, UploadUrlResponse
from meterhub.intervals.ports import UploadRepository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.paths import FILE_NAME, Drop
from meterhub.intervals.use_cases import arguments
from meterhub.platform.errors import InvalidInput, PayloadTooLarge, StorageUnavailable, UnsupportedMediaType
from meterhub.platform.object_store import ObjectStore

SUPPORTED_SCHEMAS = ("load",)
CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_URL_SECONDS = 900
JOB_ID_METADATA = "job-id"
"""S3 user metadata naming the job of an uploaded object (header `x-amz-meta-job-id`)."""


def _schema(value: str | None) -> None:
    if value is None or not value.strip():
        raise InvalidInput("schema is required", {"schema": "is required; only load is supported"})
    if value.strip().lower() not in SUPPORTED_SCHEMAS:
        raise InvalidInput("Unsupported schema", {"schema": f"{value[:64]!r} is not supported; only load is supported"})


def _file_name(value: str | None, job_id: str) -> str:
    if value is None:
        return f"upload-{job_id}.csv"
    if not FILE_NAME.fullmatch(value):
        raise InvalidInput(
            "Invalid file_name",
            {"file_name": "at most 200 characters: letters, digits, . _ - and spaces, starting with a letter or digit"},
        )
    return value


def _queued_job(partner_id: str, job_id: str, drop: Drop, now: datetime) -> UploadJob:
    return UploadJob(
        job_id=job_id,
        partner_id=partner_id,
        status=UploadStatus.QUEUED,
        uploaded_file_path=drop.partner_path,
        current_file_path=drop.partner_path,
        object_key=drop.key,
        uploaded_at=now,
        updated_at=now,
    )


def upload_file(
    uploads: UploadRepository,
    objects: ObjectStore,
    partner_id: str,
    body: bytes,
    content_type: str | None,
    *,
    schema: str | None,
    file_name: str | None = None,
    now: datetime | None = None,
) -> IngestionResponse:
    """Create the QUEUED job, then store the file where the pipeline picks it up (with the job id on it)."""
    _schema(schema)
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CSV_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "Unsupported content type",
            {"content-type": f"{media[:64] or '(none)'} is not supported: send the file as text/csv"},
        )
    job_id = str(uuid.uuid4())
    name = _file_name(file_name, job_id)
    if not body:
        raise InvalidInput("Empty file", {"body": "the request body must hold the CSV file"})
    if len(body) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            "File too large for this endpoint",
            {
                "body": f"the file is {len(body)} bytes; this endpoint takes at most {MAX_UPLOAD_BYTES} bytes: "
                "use POST /v1.1/interval-data/upload-url for larger files"
            },
        )
    drop = Drop(partner_id, name)
    timestamp = arguments.utc_now(now)
    job = _queued_job(partner_id, job_id, drop, timestamp)
    uploads.create(job)
    try:
        objects.put(drop.key, body, "text/csv", {JOB_ID_METADATA: job_id})
    except Exception as error:
        # Without its file the job would stay QUEUED forever: end it with the reason instead.
        failed = job.model_copy(
            update={
                "status": UploadStatus.FAILED,
                "failure_reason": "the file could not be stored; upload it again",
                "updated_at": datetime.now(UTC),
            }
        )
        uploads.save(failed)
        raise StorageUnavailable("The file could not be stored; please retry") from error
    return IngestionResponse(job_id=uuid.UUID(job_id))


def request_upload_url(
    uploads: UploadRepository,
    objects: ObjectStore,
    partner_id: str,
    request: UploadUrlRequest,
    now: datetime | None = None,
) -> UploadUrlResponse:
    """A QUEUED job and a presigned PUT into the partner's drop folder carrying that job's id."""
    _schema(request.data_schema)
    job_id = str(uuid.uuid4())
    drop = Drop(partner_id, _file_name(request.file_name, job_id))
    uploads.create(_queued_job(partner_id, job_id, drop, arguments.utc_now(now)))
    metadata = {JOB_ID_METADATA: job_id}
    url = objects.presigned_put(drop.key, UPLOAD_URL_SECONDS, "text/csv", metadata)
    return UploadUrlResponse(
        job_id=uuid.UUID(job_id),
        uploaded_file_path=drop.partner_path,
        upload_url=url,
        method="PUT",
        headers={"Content-Type": "text/csv", f"x-amz-meta-{JOB_ID_METADATA}": job_id},
        expires_in_seconds=UPLOAD_URL_SECONDS,
    )
