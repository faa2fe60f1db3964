"""Upload jobs as partners list and read them: one row per upload, and a job with its errors.

The ingest pipeline records what it did on the job; this module only reads it. Decisions, so the API docs
and the tests say the same thing:

    * One row per upload (per job), newest first - not one per file name as in Leap: a re-upload under the
      same name is another attempt with its own outcome, and `file_path=/interval-data/<name>` lists them
      all. `last_job_id` is that row's job. `from`/`to` are inclusive bounds on `uploaded_at_date_time`;
      `file_path` matches the uploaded path exactly (Leap's pattern, plus spaces, which our names allow).
    * A job of another partner answers 404, as a missing one does: a job id never tells one partner about
      another's uploads.
    * A large file checked in pieces (use_cases.fanout) shows its progress while its pieces are checked: the
      row counters are the sums over the pieces checked so far, with `pieces_checked` of `pieces_total`
      (`with_progress`); once every piece is checked the job's own counters, assembled across pieces, take over.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from meterhub.intervals.api_models import (
    GetUploadIngestionErrorsResponse,
    GetUploadsResponse,
    IntervalDataUpload,
    IntervalDataUploadIngestionError,
    IntervalDataUploadIngestionErrorSummary,
)
from meterhub.intervals.ports import UploadRepository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.use_cases import arguments
from meterhub.intervals.use_cases.fanout import CHECK_STEP
from meterhub.platform import page_tokens
from meterhub.platform.errors import InvalidInput, NotFound
from meterhub.platform.ids import parse_id

DEFAULT_UPLOADS_PAGE = 50
MAX_UPLOADS_PAGE = 500
FILE_PATH = re.compile(r"^/interval-data/[A-Za-z0-9._/ -]+$")
MAX_FILE_PATH = 1024


def parse_job_id(value: str) -> str:
    return parse_id(value, "job_id")


def load_job(uploads: UploadRepository, partner_id: str, job_id: str) -> UploadJob:
    """A job of this partner; another partner's job is indistinguishable from a missing one (404)."""
    job = uploads.get(partner_id, parse_job_id(job_id))
    if job is None:
        raise NotFound("Upload job not found", {"job_id": job_id[:64]})
    return job


def with_progress(uploads: UploadRepository, job: UploadJob) -> tuple[UploadJob, int]:
    """The job with its counters as far as its pieces are checked, and how many pieces are checked.

    Each piece's counts are added once, in the same atomic write that records the piece done, so a piece
    retried or delivered twice never counts twice. Only a processing fanned-out job whose pieces are still being
    checked reads them: after that its own counters (saved when its pieces are assembled) are the file's."""
    if job.pieces_total == 0:
        return job, 0
    if job.status is not UploadStatus.PROCESSING or job.storing:
        return job, job.pieces_total
    progress = uploads.step_progress(job.partner_id, job.job_id, CHECK_STEP)
    counts = {name: progress.counts.get(name, 0) for name in ("rows_total", "rows_valid", "rows_invalid")}
    return job.model_copy(update=counts), progress.done


def _listed(uploads: UploadRepository, stored: UploadJob) -> IntervalDataUpload:
    job, _ = with_progress(uploads, stored)
    return IntervalDataUpload(
        last_job_id=uuid.UUID(job.job_id),
        uploaded_file_path=job.uploaded_file_path,
        current_file_path=job.current_file_path,
        uploaded_at_date_time=job.uploaded_at,
        status=job.status,
        feedback_csv_file_path=job.feedback_file_path,
        error_csv_file_path=job.error_csv_file_path,
        updated_at_date_time=job.updated_at,
        rows_total=job.rows_total,
        rows_valid=job.rows_valid,
        rows_invalid=job.rows_invalid,
        errors_total=job.errors_total,
    )


def list_uploads(
    uploads: UploadRepository,
    partner_id: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    file_path: str | None = None,
    status: UploadStatus | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> GetUploadsResponse:
    """This partner's uploads, newest first; `from`/`to` bound uploaded_at (inclusive).

    `page_size` (1 to MAX_UPLOADS_PAGE) and `file_path` (FILE_PATH, at most MAX_FILE_PATH characters) are
    bounded by the route, this function's only caller, which answers the 400 naming them.
    """
    low, high = arguments.aware(from_, "from"), arguments.aware(to, "to")
    if low and high and low > high:
        raise InvalidInput("Invalid to", {"to": "must not be before from"})
    size = DEFAULT_UPLOADS_PAGE if page_size is None else page_size
    fingerprint = page_tokens.fingerprint(
        {"from": low, "to": high, "file_path": file_path, "status": status.value if status else None}
    )
    before = page_tokens.decode(page_token, fingerprint) if page_token else None
    selected: list[UploadJob] = []
    last = ""
    for sort_key, job in uploads.jobs(partner_id, before):
        if low and job.uploaded_at < low:
            break  # newest first: every later job is older still
        if (high and job.uploaded_at > high) or (status and job.status != status):
            continue
        if file_path is not None and job.uploaded_file_path != file_path:
            continue
        if len(selected) == size:
            return GetUploadsResponse(
                uploads=[_listed(uploads, j) for j in selected], next_page_token=page_tokens.encode(last, fingerprint)
            )
        selected.append(job)
        last = sort_key
    return GetUploadsResponse(uploads=[_listed(uploads, j) for j in selected])


def get_upload(uploads: UploadRepository, partner_id: str, job_id: str) -> GetUploadIngestionErrorsResponse:
    job, pieces_checked = with_progress(uploads, load_job(uploads, partner_id, job_id))
    errors = [IntervalDataUploadIngestionError.model_validate(e) for e in job.errors]
    return GetUploadIngestionErrorsResponse(
        job_id=uuid.UUID(job.job_id),
        status=job.status,
        uploaded_file_path=job.uploaded_file_path,
        current_file_path=job.current_file_path,
        error_csv_file_path=job.error_csv_file_path,
        feedback_csv_file_path=job.feedback_file_path,
        error_summary=[IntervalDataUploadIngestionErrorSummary.model_validate(s) for s in job.error_summary],
        errors=errors,
        errors_total=max(job.errors_total, len(errors)),
        errors_truncated=job.errors_total > len(errors),
        rows_total=job.rows_total,
        rows_valid=job.rows_valid,
        rows_invalid=job.rows_invalid,
        pieces_total=job.pieces_total,
        pieces_checked=pieces_checked,
        failure_reason=job.failure_reason,
        uploaded_at_date_time=job.uploaded_at,
        updated_at_date_time=job.updated_at,
    )
