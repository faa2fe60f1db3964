"""The job's files: a preview of its first lines, and a presigned download of it or of its error report.

Decisions, so the API docs and the tests say the same thing:

    * Preview and download read the job's *current* file (`current_file_path`, which the pipeline moves
      to `accepted/` or `failed/`); the key is derived from the job, never from the request. The preview
      streams only the first 20 lines (each cut at 4,096 bytes).
    * The error report (`<job_id>.errors.csv`, every error of a FAILED file where the job keeps the first 100)
      downloads the same way, from the job's `error_csv_file_path`; a job without one is a 404 that says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from meterhub.intervals.api_models import DownloadFile, GetIntervalDataFilePreviewResponse
from meterhub.intervals.ports import UploadRepository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.paths import DROP_FOLDER
from meterhub.intervals.use_cases.upload_jobs import load_job
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import ObjectStore

DOWNLOAD_URL_SECONDS = 300
PREVIEW_LINES = 20
PREVIEW_LINE_BYTES = 4096


def current_key(job: UploadJob) -> str:
    """The bucket key of the job's current file, from the job alone (`partners/<pid>` + its partner path)."""
    return _partner_key(job, job.current_file_path, "The job's file is not available")


def error_report_key(job: UploadJob) -> str:
    """The bucket key of the job's error report; NotFound when the job has none (it did not fail on its rows)."""
    if job.error_csv_file_path is None:
        raise NotFound(
            "This job has no error report: only a FAILED job whose rows were checked has one",
            {"job_id": job.job_id, "status": job.status.value},
        )
    return _partner_key(job, job.error_csv_file_path, "The job's error report is not available")


def _partner_key(job: UploadJob, path: str, missing: str) -> str:
    """`partners/<pid>` + a partner path of the job, refused unless it is plainly inside the drop folder."""
    parts = path.split("/")
    if not path.startswith(f"/{DROP_FOLDER}/") or any(part in {"", ".", ".."} for part in parts[1:]):
        raise NotFound(missing, {"job_id": job.job_id})
    return f"partners/{job.partner_id}{path}"


def _first_lines(chunks: Iterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The first `limit` lines (without their line ends) and whether the file holds anything after them."""
    lines: list[bytes] = []
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while len(lines) < limit:
            cut = buffer.find(b"\n")
            if cut < 0:
                if len(buffer) > PREVIEW_LINE_BYTES:
                    # A line far longer than any valid row: show its start and stop reading.
                    lines.append(buffer[:PREVIEW_LINE_BYTES])
                    return lines, True
                break
            lines.append(buffer[:cut][:PREVIEW_LINE_BYTES])
            limited = cut > PREVIEW_LINE_BYTES
            buffer = buffer[cut + 1 :]
            if limited:
                return lines, True
        if len(lines) == limit:
            if buffer:
                return lines, True
            return lines, any(next_chunk for next_chunk in chunks)
    if buffer:
        lines.append(buffer[:PREVIEW_LINE_BYTES])
    return lines, False


def _text(line: bytes, first: bool) -> str:
    text = line.decode("utf-8", errors="replace").removesuffix("\r")
    return text.removeprefix("\ufeff") if first else text


def _read_preview(objects: ObjectStore, key: str) -> tuple[list[str], bool]:
    chunks = objects.chunks(key)
    try:
        lines, limited = _first_lines(chunks, PREVIEW_LINES)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stop streaming: the rest of the object is never read
    return [_text(line, index == 0) for index, line in enumerate(lines)], limited


def preview_upload(
    uploads: UploadRepository, objects: ObjectStore, partner_id: str, job_id: str
) -> GetIntervalDataFilePreviewResponse:
    """The first 20 lines of the job's current file, header first."""
    job = load_job(uploads, partner_id, job_id)
    try:
        lines, limited = _read_preview(objects, current_key(job))
    except NotFound:
        # The pipeline may have moved the file since the job was read: follow it once.
        fresh = load_job(uploads, partner_id, job_id)
        if fresh.current_file_path == job.current_file_path:
            raise _file_missing(fresh) from None
        job = fresh
        try:
            lines, limited = _read_preview(objects, current_key(job))
        except NotFound:
            raise _file_missing(job) from None
    return GetIntervalDataFilePreviewResponse(
        file_data=lines,
        job_id=uuid.UUID(job.job_id),
        status=job.status,
        created_at=job.uploaded_at,
        updated_at=job.updated_at,
        is_limited=limited,
    )


def _file_missing(job: UploadJob) -> NotFound:
    if job.status is UploadStatus.QUEUED:
        return NotFound("No file has been uploaded for this job yet", {"job_id": job.job_id})
    return NotFound("The job's file is not available", {"job_id": job.job_id})


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def download_url(
    uploads: UploadRepository,
    objects: ObjectStore,
    partner_id: str,
    job_id: str,
    file: DownloadFile = DownloadFile.ORIGINAL,
) -> str:
    """A presigned GET (5 minutes) of the job's current file or its error report, downloaded under its own name."""
    job = load_job(uploads, partner_id, job_id)
    key = error_report_key(job) if file is DownloadFile.ERRORS else current_key(job)
    file_name = _UNSAFE_NAME.sub("_", key.rsplit("/", 1)[-1]) or "interval-data.csv"
    return objects.presigned_get(key, DOWNLOAD_URL_SECONDS, file_name)
