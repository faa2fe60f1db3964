"""Interval-data upload API models (Leap's interval-data-upload shapes, plus ours). Kept apart from
meters/api_models/responses.py so only the functions serving these routes pay for building them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from meterhub.intervals.records import UploadStatus
from meterhub.meters.api_models.responses import UniqueIds
from meterhub.platform.api.envelopes import ApiModel
from meterhub.platform.page_tokens import MAX_PAGE_SIZE


# ----- interval uploads ----------------------------------------------------------------------------------------
class IngestionResponse(ApiModel):
    """Leap's answer to an upload: the ingestion job to poll."""

    job_id: UUID


class UploadUrlRequest(ApiModel):
    """POST /v1.1/interval-data/upload-url (ours): a presigned PUT for files too large for the API."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    file_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$",  # meterhub.intervals.rules.paths.FILE_NAME (a test checks)
        description="Name the file gets in /interval-data/ (default upload-<job_id>.csv)",
    )
    data_schema: str = Field(alias="schema", description="The file's schema; only `load` is supported")


class UploadUrlResponse(ApiModel):
    job_id: UUID
    uploaded_file_path: str = Field(description="Where the file lands, as the partner sees it")
    upload_url: str = Field(description="PUT the file here, with exactly the headers below")
    method: str = Field(default="PUT")
    headers: dict[str, str] = Field(description="Headers the PUT must carry (they are part of the signature)")
    expires_in_seconds: int


class IntervalDataUpload(ApiModel):
    """One upload (one job): Leap's fields, plus our row counters."""

    last_job_id: UUID = Field(description="The job of this upload (every upload is its own job)")
    uploaded_file_path: str
    current_file_path: str
    uploaded_at_date_time: datetime
    status: UploadStatus
    feedback_csv_file_path: str | None = None
    error_csv_file_path: str | None = None
    updated_at_date_time: datetime | None = Field(default=None, description="Ours: the last status change")
    rows_total: int = Field(default=0, description="Ours: data rows read so far")
    rows_valid: int = Field(default=0, description="Ours")
    rows_invalid: int = Field(default=0, description="Ours")
    errors_total: int = Field(default=0, description="Ours")


class GetUploadsResponse(ApiModel):
    uploads: list[IntervalDataUpload]
    next_page_token: str | None = Field(default=None, description="Present only when more uploads may follow")


class IntervalDataUploadIngestionErrorSummary(ApiModel):
    column: str | None = None
    code: str
    count: int


class IntervalDataUploadIngestionError(ApiModel):
    line: int = Field(description="1-based line of the file (the header is line 1)")
    column: str | None = None
    code: str
    message: str


class GetUploadIngestionErrorsResponse(ApiModel):
    job_id: UUID
    status: UploadStatus
    uploaded_file_path: str
    current_file_path: str
    error_csv_file_path: str | None = Field(default=None, description="Every error, as CSV (FAILED jobs)")
    feedback_csv_file_path: str | None = None
    error_summary: list[IntervalDataUploadIngestionErrorSummary] = Field(description="Counts per column and code")
    errors: list[IntervalDataUploadIngestionError] = Field(description="The first 100 errors")
    errors_total: int = Field(description="Ours: how many errors the file has")
    errors_truncated: bool = Field(description="Ours: true when `errors` holds fewer than errors_total")
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    pieces_total: int = Field(
        default=0, description="Ours: the pieces a large file is checked in, in parallel (0: a file checked whole)"
    )
    pieces_checked: int = Field(
        default=0, description="Ours: the pieces checked so far; the row counters add up what they checked"
    )
    failure_reason: str | None = Field(default=None, description="Ours: why a file failed as a whole")
    uploaded_at_date_time: datetime
    updated_at_date_time: datetime


class DownloadFile(StrEnum):
    """Which file of a job `presigned-url` serves (ours: Leap's route serves only the original)."""

    ORIGINAL = "original"
    ERRORS = "errors"


class GetIntervalDataFilePreviewResponse(ApiModel):
    file_data: list[str] = Field(description="The file's first lines, header first")
    job_id: UUID
    status: UploadStatus
    created_at: datetime
    updated_at: datetime
    is_limited: bool = Field(description="True when the file goes on beyond these lines (or a line was cut)")


class MeterInterval(ApiModel):
    """One stored interval, at the length it was stored at: 15 minutes (partner uploads, a utility's 15-minute
    data) or a utility's own length (hourly, half-hourly, 5-minute...), never split into finer intervals. Its
    length is interval_end_time_utc - interval_start_time_utc (no extra field: the shape stays Leap's)."""

    interval_start_time_utc: datetime
    interval_end_time_utc: datetime = Field(
        description="Exclusive: the start plus the interval's length (15 minutes, or the utility's own length)"
    )
    energy_net_kwh: float | None = None
    energy_consumed_kwh: float | None = None
    energy_generated_kwh: float | None = None
    final: bool


class MeterIntervalsResponse(ApiModel):
    meter_id: UUID
    intervals: list[MeterInterval] = Field(
        description="Stored intervals starting in [start, end), in start order (at one start the shorter first): "
        "15-minute intervals and those kept at a utility's own length (hourly, half-hourly...)"
    )
    next_page_token: str | None = Field(default=None, description="Present only when more intervals may follow")


class MissingIntervalSearchState(StrEnum):
    OPEN = "OPEN"
    PENDING = "PENDING"


class MissingIntervalStatus(StrEnum):
    OPEN = "OPEN"
    PROCESSING = "PROCESSING"


class IntervalDataType(StrEnum):
    LOAD_DATA = "LOAD_DATA"
    RUNTIME_DATA = "RUNTIME_DATA"
    PERFORMANCE_DATA = "PERFORMANCE_DATA"


class SearchMissingIntervalDataRequest(ApiModel):
    """Every filter optional; `start_date_time_utc` / `end_date_time_utc` (the names of Leap's own request
    example) are accepted as the missing-interval window."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    meter_ids: UniqueIds | None = None
    state: MissingIntervalSearchState | None = None
    missing_interval_window_start_date_time_utc: AwareDatetime | None = Field(default=None, description="Inclusive")
    missing_interval_window_end_date_time_utc: AwareDatetime | None = Field(default=None, description="Exclusive")
    submission_deadline_window_start_date_time_utc: AwareDatetime | None = Field(default=None, description="Inclusive")
    submission_deadline_window_end_date_time_utc: AwareDatetime | None = Field(default=None, description="Exclusive")
    start_date_time_utc: AwareDatetime | None = Field(
        default=None, description="Alias of missing_interval_window_start_date_time_utc"
    )
    end_date_time_utc: AwareDatetime | None = Field(
        default=None, description="Alias of missing_interval_window_end_date_time_utc"
    )
    page_token: str | None = Field(default=None, max_length=2048)
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class MissingInterval(ApiModel):
    meter_id: UUID
    data_type: IntervalDataType
    start_date_time_utc: datetime = Field(description="Inclusive")
    end_date_time_utc: datetime = Field(description="Exclusive")
    submission_deadline_date_time_utc: datetime = Field(description="Ours: the end of the range + 3 days")
    status: MissingIntervalStatus


class SearchMissingIntervalDataResponse(ApiModel):
    missing_intervals: list[MissingInterval]
    next_page_token: str | None = Field(default=None, description="Present only when more ranges may follow")
