"""Interval data as partners see it: uploads, upload jobs and their files, stored intervals, and gaps.

The ingest pipeline (S3 notification -> queue -> ingest function) does the work; this module only starts
it and reads what it recorded. Decisions, so the API docs and the tests say the same thing:

Uploads
    * `POST /v1.1/interval-data?schema=load` takes the raw file (`text/csv` or `application/csv`, at most
      5 MB: Lambda takes at most 6 MB with the event around it, and a base64-encoded body grows by a third,
      so binary-typed bodies fail above ~4.4 MB); bigger files go through
      `POST /v1.1/interval-data/upload-url` (ours), a presigned PUT valid 15 minutes. Only `schema=load` is
      supported (Leap has not published the `runtime` and `performance` columns).
    * The job is created QUEUED *before* the file is stored at `partners/<pid>/interval-data/<file_name>`
      with the S3 metadata `job-id`: the pipeline then finds the job the notification belongs to. The same
      file name again is a new job and a new version of the object (the bucket is versioned).
    * A presigned-URL job whose file never arrives stays QUEUED (its preview answers 404 until then).
Job list
    * One row per upload (per job), newest first - not one per file name as in Leap: a re-upload under the
      same name is another attempt with its own outcome, and `file_path=/interval-data/<name>` lists them
      all. `last_job_id` is that row's job. `from`/`to` are inclusive bounds on `uploaded_at_date_time`;
      `file_path` matches the uploaded path exactly (Leap's pattern, plus spaces, which our names allow).
Files
    * Preview and download read the job's *current* file (`current_file_path`, which the pipeline moves
      to `accepted/` or `failed/`); the key is derived from the job, never from the request. The preview
      streams only the first 20 lines (each cut at 4,096 bytes).
Stored intervals (`GET /v2/meters/{meter_id}/intervals`)
    * The intervals whose start is in [start, end), at most 31 days per request, in time order.
    * Intervals are returned at the length they were stored at: the 15-minute ones (partner uploads, and
      utilities sending 15-minute data) and those a utility sent at another length (hourly, half-hourly,
      5-minute...), each with its true end (`interval_end_time_utc` = start + its length; the length is
      end - start, no extra field). They are merged in (start, length) order: at one start, the shorter
      interval first. Both kinds may cover the same time (a partner upload and the utility's hourly data):
      both are returned, the API never picks one for the partner.
    * The page token is the (start, length) of the last interval served, so a page may end between two
      intervals with the same start.
Gaps (`POST /v1.1/missing-interval-data/search`)
    * Meters of this partner, not archived, with a program that takes partner-supplied data. A gap is a
      maximal run of 15-minute intervals without a stored value, from the meter's creation (rounded up to
      the next 15-minute boundary) to the end of the window, clipped to the window.
    * A 15-minute interval whose whole span is covered by stored readings of another length (an hourly
      reading covers its four quarter-hours; 5-minute readings cover a quarter-hour when all three are
      stored) is not missing: the data exists at the utility's length, and reporting it would ask the
      partner for 15-minute data they cannot supply.
    * The window end defaults to now (rounded down to 15 minutes) and is never later than that; without a
      window start the window is the 31 days before its end; a window may span at most 366 days.
    * Submission deadline (our rule; Leap does not publish one): the end of the missing range + 3 days.
    * Every range is OPEN: backfills in progress are not tracked, so `state=PENDING` finds nothing.
"""

from __future__ import annotations

import heapq
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from meterhub.catalog.enums import MeterType, TransmissionRegion
from meterhub.intervals.api_models import (
    GetIntervalDataFilePreviewResponse,
    GetUploadIngestionErrorsResponse,
    GetUploadsResponse,
    IngestionResponse,
    IntervalDataType,
    IntervalDataUpload,
    IntervalDataUploadIngestionError,
    IntervalDataUploadIngestionErrorSummary,
    MeterInterval,
    MeterIntervalsResponse,
    MissingInterval,
    MissingIntervalSearchState,
    MissingIntervalStatus,
    SearchMissingIntervalDataRequest,
    SearchMissingIntervalDataResponse,
    UploadUrlRequest,
    UploadUrlResponse,
)
from meterhub.intervals.ports import IntervalStore, UploadRepository
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.intervals.rules.paths import DROP_FOLDER, FILE_NAME, Drop
from meterhub.intervals.rules.slots import (
    ALL_SLOTS,
    SLOT_MINUTES,
    SLOT_SECONDS,
    SLOTS_PER_DAY,
    LengthDay,
    covered_slots,
    length_problem,
    length_slot_start,
    slot_start,
)
from meterhub.meters.ports import MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases.read_meters import load_meter
from meterhub.platform import page_tokens
from meterhub.platform.errors import InvalidInput, NotFound, PayloadTooLarge, StorageUnavailable, UnsupportedMediaType
from meterhub.platform.ids import parse_id
from meterhub.platform.object_store import ObjectStore

SUPPORTED_SCHEMAS = ("load",)
CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_URL_SECONDS = 900
DOWNLOAD_URL_SECONDS = 300
JOB_ID_METADATA = "job-id"
"""S3 user metadata naming the job of an uploaded object (header `x-amz-meta-job-id`)."""

DEFAULT_UPLOADS_PAGE = 50
MAX_UPLOADS_PAGE = 500
FILE_PATH = re.compile(r"^/interval-data/[A-Za-z0-9._/ -]+$")
MAX_FILE_PATH = 1024

PREVIEW_LINES = 20
PREVIEW_LINE_BYTES = 4096

DEFAULT_INTERVALS_PAGE = 960
MAX_INTERVALS_PAGE = 9600
MAX_READ_SPAN = timedelta(days=31)

GAP_DEFAULT_SPAN = timedelta(days=31)
GAP_MAX_SPAN = timedelta(days=366)
SUBMISSION_GRACE = timedelta(days=3)
METERS_PER_QUERY = 100

SLOT = timedelta(minutes=SLOT_MINUTES)
_ONE_MICROSECOND = timedelta(microseconds=1)


# ----- shared helpers -------------------------------------------------------------------------------------
def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def floor_slot(moment: datetime) -> datetime:
    """The 15-minute boundary at or before `moment` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % SLOT_MINUTES, second=0, microsecond=0)


def ceil_slot(moment: datetime) -> datetime:
    """The 15-minute boundary at or after `moment` (UTC)."""
    floor = floor_slot(moment)
    return floor if floor == moment else floor + SLOT


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"Invalid {field}", {field: "must be a date-time with a UTC offset, e.g. 2026-01-31T00:00:00Z"}
        )
    return value.astimezone(UTC)


def parse_job_id(value: str) -> str:
    return parse_id(value, "job_id")


def load_job(uploads: UploadRepository, partner_id: str, job_id: str) -> UploadJob:
    """A job of this partner; another partner's job is indistinguishable from a missing one (404)."""
    job = uploads.get(partner_id, parse_job_id(job_id))
    if job is None:
        raise NotFound("Upload job not found", {"job_id": job_id[:64]})
    return job


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


# ----- upload ---------------------------------------------------------------------------------------------
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
    timestamp = _now(now)
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
    uploads.create(_queued_job(partner_id, job_id, drop, _now(now)))
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


# ----- job list and job -----------------------------------------------------------------------------------
def _listed(job: UploadJob) -> IntervalDataUpload:
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
    low, high = _aware(from_, "from"), _aware(to, "to")
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
                uploads=[_listed(j) for j in selected], next_page_token=page_tokens.encode(last, fingerprint)
            )
        selected.append(job)
        last = sort_key
    return GetUploadsResponse(uploads=[_listed(j) for j in selected])


def get_upload(uploads: UploadRepository, partner_id: str, job_id: str) -> GetUploadIngestionErrorsResponse:
    job = load_job(uploads, partner_id, job_id)
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
        failure_reason=job.failure_reason,
        uploaded_at_date_time=job.uploaded_at,
        updated_at_date_time=job.updated_at,
    )


# ----- the job's file: preview and download ---------------------------------------------------------------
def current_key(job: UploadJob) -> str:
    """The bucket key of the job's current file, from the job alone (`partners/<pid>` + its partner path)."""
    path = job.current_file_path
    parts = path.split("/")
    if not path.startswith(f"/{DROP_FOLDER}/") or any(part in {"", ".", ".."} for part in parts[1:]):
        raise NotFound("The job's file is not available", {"job_id": job.job_id})
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


def download_url(uploads: UploadRepository, objects: ObjectStore, partner_id: str, job_id: str) -> str:
    """A presigned GET (5 minutes) of the job's current file, downloaded under its own name."""
    job = load_job(uploads, partner_id, job_id)
    key = current_key(job)
    file_name = _UNSAFE_NAME.sub("_", key.rsplit("/", 1)[-1]) or "interval-data.csv"
    return objects.presigned_get(key, DOWNLOAD_URL_SECONDS, file_name)


# ----- stored intervals -----------------------------------------------------------------------------------
def read_intervals(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    meter_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> MeterIntervalsResponse:
    """The meter's stored intervals whose start is in [start, end), in (start, length) order, `page_size` at a
    time: 15-minute intervals and those stored at a utility's own length together (see the module doc).

    `page_size` (1 to MAX_INTERVALS_PAGE) is bounded by the route, this function's only caller.
    """
    meter = load_meter(meters, partner_id, meter_id)
    low, high = _aware(start, "start"), _aware(end, "end")
    if low is None:
        raise InvalidInput("start is required", {"start": "is required"})
    if high is None:
        raise InvalidInput("end is required", {"end": "is required"})
    if high <= low:
        raise InvalidInput("Invalid end", {"end": "must be after start"})
    if high - low > MAX_READ_SPAN:
        raise InvalidInput(
            "Invalid end",
            {"end": "at most 31 days after start per request: read longer periods in several requests"},
        )
    size = DEFAULT_INTERVALS_PAGE if page_size is None else page_size
    fingerprint = page_tokens.fingerprint({"meter_id": meter.meter_id, "start": low, "end": high})
    after = _interval_cursor(page_tokens.decode(page_token, fingerprint, prefix="AFTER#")) if page_token else None
    first = max(low, after[0]) if after else low
    selected: list[_Stored] = []
    # A cursor at or past `end` (a forged token) must not reach storage: an inverted key range is an error there.
    stored = _stored(store, partner_id, meter.meter_id, first, high) if first < high else iter(())
    for interval in stored:
        begins, length = interval[0], interval[1]
        if begins < low or (after is not None and (begins, length) <= after):
            continue
        if begins >= high:
            break
        if len(selected) == size:
            token = page_tokens.encode(_cursor_text(selected[-1][0], selected[-1][1]), fingerprint)
            return MeterIntervalsResponse(
                meter_id=uuid.UUID(meter.meter_id), intervals=_answer(selected), next_page_token=token
            )
        selected.append(interval)
    return MeterIntervalsResponse(meter_id=uuid.UUID(meter.meter_id), intervals=_answer(selected))


_Stored = tuple[datetime, int, float | None, float | None, float | None, bool]
"""One stored interval: start, length in seconds, net, consumed, generated, final."""


def _stored(store: IntervalStore, partner_id: str, meter_id: str, first: datetime, high: datetime) -> Iterator[_Stored]:
    """Every stored interval of the days holding [first, high), both kinds merged in (start, length) order.

    The 15-minute days stream as before; the length days of the range (at most 31 days, usually none) are
    read in one query and sorted, since one day may hold several lengths. Plain tuples: response models are
    built only for the intervals a page returns.
    """
    first_day, last_day = first.date(), (high - _ONE_MICROSECOND).date()
    quarter_hours = (
        (
            slot_start(day, slot),
            SLOT_SECONDS,
            slots.net[slot],
            slots.consumed[slot],
            slots.generated[slot],
            slots.is_final(slot),
        )
        for day, slots in store.days(partner_id, meter_id, first_day, last_day)
        for slot in slots.slots()
    )
    others = sorted(
        (
            (
                length_slot_start(day, slot, held.length),
                held.length,
                held.net[slot],
                held.consumed[slot],
                held.generated[slot],
                held.is_final(slot),
            )
            for day, held in store.length_days(partner_id, meter_id, first_day, last_day)
            for slot in held.slots()
        ),
        key=_order,
    )
    if not others:
        yield from quarter_hours
        return
    yield from heapq.merge(quarter_hours, others, key=_order)


def _order(interval: _Stored) -> tuple[datetime, int]:
    """(start, length): the start order the API promises, the shorter interval first at one start."""
    return interval[0], interval[1]


def _answer(selected: list[_Stored]) -> list[MeterInterval]:
    return [
        MeterInterval(
            interval_start_time_utc=begins,
            interval_end_time_utc=begins + (SLOT if length == SLOT_SECONDS else timedelta(seconds=length)),
            energy_net_kwh=net,
            energy_consumed_kwh=consumed,
            energy_generated_kwh=generated,
            final=final,
        )
        for begins, length, net, consumed, generated, final in selected
    ]


def _cursor_text(begins: datetime, length: int) -> str:
    """`AFTER#<start>` for a 15-minute interval (the format tokens had before other lengths existed, so a
    token issued then still means the same), `AFTER#<start>#<length>` for another length."""
    text = f"AFTER#{begins.isoformat()}"
    return text if length == SLOT_SECONDS else f"{text}#{length}"


def _interval_cursor(cursor: str) -> tuple[datetime, int]:
    """The (start, length) of the last interval served. Tokens are not signed: a forged one may only move
    the cursor within the caller's own meter, and anything malformed is a 400."""
    moment_text, _, length_text = cursor.removeprefix("AFTER#").partition("#")
    try:
        moment = datetime.fromisoformat(moment_text)
        length = int(length_text) if length_text else SLOT_SECONDS
    except ValueError:
        raise InvalidInput("page_token is not a token this API issued", {"page_token": cursor[:64]}) from None
    if moment.tzinfo is None or moment.utcoffset() is None or (length != SLOT_SECONDS and length_problem(length)):
        raise InvalidInput("page_token is not a token this API issued", {"page_token": cursor[:64]})
    return moment.astimezone(UTC), length


# ----- gaps -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GapWindow:
    start: datetime
    end: datetime
    deadline_from: datetime | None
    deadline_until: datetime | None


WINDOW_START = "missing_interval_window_start_date_time_utc"
WINDOW_END = "missing_interval_window_end_date_time_utc"
DEADLINE_START = "submission_deadline_window_start_date_time_utc"
DEADLINE_END = "submission_deadline_window_end_date_time_utc"


def gap_window(request: SearchMissingIntervalDataRequest, now: datetime) -> GapWindow:
    """The search window on 15-minute boundaries (see the module doc) and the deadline bounds."""
    start = _alias(request.missing_interval_window_start_date_time_utc, request.start_date_time_utc, WINDOW_START)
    end = _alias(request.missing_interval_window_end_date_time_utc, request.end_date_time_utc, WINDOW_END)
    if start and end and start >= end:
        raise InvalidInput(f"Invalid {WINDOW_START}", {WINDOW_START: f"must be before {WINDOW_END}"})
    latest = floor_slot(now)
    window_end = min(floor_slot(end), latest) if end else latest
    window_start = ceil_slot(start) if start else window_end - GAP_DEFAULT_SPAN
    if (end or window_end) - window_start > GAP_MAX_SPAN:
        raise InvalidInput(f"Invalid {WINDOW_START}", {WINDOW_START: "the window may span at most 366 days"})
    low = _aware(request.submission_deadline_window_start_date_time_utc, DEADLINE_START)
    high = _aware(request.submission_deadline_window_end_date_time_utc, DEADLINE_END)
    if low and high and low >= high:
        raise InvalidInput(f"Invalid {DEADLINE_START}", {DEADLINE_START: f"must be before {DEADLINE_END}"})
    return GapWindow(window_start, window_end, low, high)


def _alias(value: datetime | None, alias: datetime | None, field: str) -> datetime | None:
    if value is not None and alias is not None:
        alias_name = "start_date_time_utc" if field == WINDOW_START else "end_date_time_utc"
        raise InvalidInput(f"Invalid {alias_name}", {alias_name: f"give either {alias_name} or {field}, not both"})
    return _aware(value if value is not None else alias, field)


def takes_partner_data(meter: MeterRecord) -> bool:
    """Whether some program of the meter takes partner-supplied interval data (else it has no gaps to fill)."""
    from meterhub.catalog.programs import accepts_partner_interval_data

    try:
        return accepts_partner_interval_data(TransmissionRegion(meter.transmission_region), MeterType(meter.meter_type))
    except ValueError:
        return False


def missing_ranges(
    store: IntervalStore, partner_id: str, meter_id: str, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Maximal runs of slots in [start, end) (15-minute boundaries) without a stored value, in time order.

    A slot whose whole span is covered by stored readings of another length (a utility's hourly data, say)
    is not missing: the data exists at the utility's length, and reporting the slot would ask the partner
    for 15-minute data they cannot supply (`covered_slots` says which slots a day's readings cover).
    """
    if start >= end:
        return
    last_day = (end - _ONE_MICROSECOND).date()
    stored = {day: slots.present for day, slots in store.days(partner_id, meter_id, start.date(), last_day)}
    for day, covered in _covered_by_other_lengths(store, partner_id, meter_id, start.date(), last_day):
        stored[day] = stored.get(day, 0) | covered
    run: datetime | None = None
    day = start.date()
    while day <= last_day:
        low = (start.hour * 60 + start.minute) // SLOT_MINUTES if day == start.date() else 0
        high = (end.hour * 60 + end.minute) // SLOT_MINUTES if day == end.date() else SLOTS_PER_DAY
        window = (ALL_SLOTS >> (SLOTS_PER_DAY - high)) & ~((1 << low) - 1)
        missing = window & ~stored.get(day, 0)
        if missing == ALL_SLOTS:
            run = run or slot_start(day, 0)  # a whole missing day continues (or starts) the run
        elif missing == 0:
            if run is not None:
                yield run, slot_start(day, low)
                run = None
        else:
            for slot in range(low, high):
                if missing >> slot & 1:
                    run = run or slot_start(day, slot)
                elif run is not None:
                    yield run, slot_start(day, slot)
                    run = None
        day += timedelta(days=1)
    if run is not None:
        yield run, end


def _covered_by_other_lengths(
    store: IntervalStore, partner_id: str, meter_id: str, first: date, last: date
) -> Iterator[tuple[date, int]]:
    """Per day first..last holding readings of other lengths, the mask of the 15-minute slots they cover."""
    day: date | None = None
    held: list[LengthDay] = []
    for stored_day, length_day in store.length_days(partner_id, meter_id, first, last):
        if stored_day != day and held:
            assert day is not None
            yield day, covered_slots(held)
            held = []
        day = stored_day
        held.append(length_day)
    if held and day is not None:
        yield day, covered_slots(held)


@dataclass(frozen=True)
class _GapCursor:
    meters_cursor: str | None
    meter_id: str
    after: datetime

    def encode(self) -> str:
        return json.dumps(
            {"p": self.meters_cursor, "m": self.meter_id, "a": self.after.isoformat()}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, text: str) -> _GapCursor:
        try:
            raw: Mapping[str, Any] = json.loads(text)
            cursor = raw["p"]
            meter_id, after = str(raw["m"]), datetime.fromisoformat(str(raw["a"]))
            if (cursor is not None and not isinstance(cursor, str)) or after.tzinfo is None:
                raise ValueError("malformed")
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("page_token is not a token this API issued", {"page_token": text[:64]}) from None
        return cls(cursor, meter_id, after)


def search_missing_intervals(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    request: SearchMissingIntervalDataRequest | None,
    now: datetime | None = None,
) -> SearchMissingIntervalDataResponse:
    """The gaps of this partner's meters that take partner data, meter by meter (creation order), in time order."""
    request = request or SearchMissingIntervalDataRequest()
    window = gap_window(request, _now(now))
    fingerprint = page_tokens.fingerprint(
        request.model_dump(mode="json", exclude={"page_token", "page_size"}, exclude_none=True)
    )
    resume = _GapCursor.decode(page_tokens.decode(request.page_token, fingerprint)) if request.page_token else None
    if request.state is MissingIntervalSearchState.PENDING:
        return SearchMissingIntervalDataResponse(missing_intervals=[])
    query = MeterQuery(
        meter_ids=tuple(str(m) for m in request.meter_ids) if request.meter_ids else None, exclude_archived=True
    )
    selected: list[tuple[_GapCursor, MissingInterval]] = []
    for cursor, gap in _gaps(meters, store, partner_id, query, window, resume):
        if len(selected) == request.page_size:
            token = page_tokens.encode(selected[-1][0].encode(), fingerprint)
            return SearchMissingIntervalDataResponse(missing_intervals=[g for _, g in selected], next_page_token=token)
        selected.append((cursor, gap))
    return SearchMissingIntervalDataResponse(missing_intervals=[g for _, g in selected])


def _gaps(
    meters: MeterRepository,
    store: IntervalStore,
    partner_id: str,
    query: MeterQuery,
    window: GapWindow,
    resume: _GapCursor | None,
) -> Iterator[tuple[_GapCursor, MissingInterval]]:
    page_cursor = resume.meters_cursor if resume else None
    skipping = resume is not None
    while True:
        page = meters.search(partner_id, query, METERS_PER_QUERY, page_cursor)
        if skipping and resume is not None and all(m.meter_id != resume.meter_id for m in page.meters):
            skipping = False  # the meter is gone: serve the page from its start
        for meter in page.meters:
            after: datetime | None = None
            if skipping and resume is not None:
                if meter.meter_id != resume.meter_id:
                    continue
                skipping, after = False, resume.after
            if not takes_partner_data(meter):
                continue
            start = max(window.start, ceil_slot(meter.created_at))
            for begins, ends in missing_ranges(store, partner_id, meter.meter_id, start, window.end):
                if after is not None and begins <= after:
                    continue
                deadline = ends + SUBMISSION_GRACE
                if (window.deadline_from and deadline < window.deadline_from) or (
                    window.deadline_until and deadline >= window.deadline_until
                ):
                    continue
                gap = MissingInterval(
                    meter_id=uuid.UUID(meter.meter_id),
                    data_type=IntervalDataType.LOAD_DATA,
                    start_date_time_utc=begins,
                    end_date_time_utc=ends,
                    submission_deadline_date_time_utc=deadline,
                    status=MissingIntervalStatus.OPEN,
                )
                yield _GapCursor(page_cursor, meter.meter_id, begins), gap
        if page.cursor is None:
            return
        page_cursor = page.cursor
