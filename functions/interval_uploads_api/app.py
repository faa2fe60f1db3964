"""Interval data: upload (raw CSV or a presigned PUT), upload jobs, their errors, previews and downloads, the
stored intervals of a meter, and the gap search (transport only; the rules are in
meterhub.intervals.use_cases: upload, upload_jobs, files, reads, gaps)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.intervals.api_models import (
    DownloadFile,
    GetIntervalDataFilePreviewResponse,
    GetUploadIngestionErrorsResponse,
    GetUploadsResponse,
    IngestionResponse,
    MeterIntervalsResponse,
    SearchMissingIntervalDataRequest,
    SearchMissingIntervalDataResponse,
    UploadUrlRequest,
    UploadUrlResponse,
)
from meterhub.intervals.records import UploadStatus
from meterhub.intervals.rules.paths import FILE_NAME
from meterhub.intervals.use_cases import files, gaps, reads, upload, upload_jobs
from meterhub.meters.api_models.params import MeterId
from meterhub.platform.api.envelopes import ErrorResponse, serialize
from meterhub.platform.api.params import PageToken, uuid_path
from meterhub.platform.api.request_body import raw_bytes
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented, json_body_errors
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import (
    DataBucketSettings,
    IntervalsTableSettings,
    JobsTableSettings,
    MetersTableSettings,
)


class Settings(JobsTableSettings, DataBucketSettings, MetersTableSettings, IntervalsTableSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


app = build_resolver()
TAGS = ["Interval data"]

ERRORS: dict[int, OpenAPIResponse] = {
    400: documented(ErrorResponse, "Invalid request; details name the field"),
}
JOB_ERRORS: dict[int, OpenAPIResponse] = {
    **ERRORS,
    400: documented(ErrorResponse, "Malformed job id"),
    404: documented(ErrorResponse, "No such job for this partner"),
}
JobId = Annotated[str, uuid_path("The upload job's UUID")]
"""Documented as a UUID, refused by `parse_job_id` (Leap's 400 "Job id is not a UUID", which reads every spelling
uuid.UUID reads)."""
UploadFileName = Annotated[
    str | None,
    Query(
        description="Name in /interval-data/ (letters, digits, . _ - space; default upload-<job_id>.csv)",
        json_schema_extra={"pattern": FILE_NAME.pattern},
    ),
]
"""Documented only: `upload_file` refuses it in words (at most 200 characters: letters, digits, ...) where a
route refusal would quote the pattern, and only after a wrong schema (400) or Content-Type (415), which it
answers first."""


def _uploads() -> Any:
    return wiring.upload_repository(Settings.load())


def _objects() -> Any:
    return wiring.data_objects(Settings.load())


@app.post(
    "/v1.1/interval-data",
    summary="Upload a load interval-data CSV file (raw text/csv body, at most 5 MB) and start its ingestion",
    operation_id="uploadIntervalData",
    tags=TAGS,
    responses={
        200: documented(IngestionResponse, "The file was stored and its job QUEUED; poll the job"),
        413: documented(ErrorResponse, "Body over 5 MB: use POST /v1.1/interval-data/upload-url"),
        415: documented(ErrorResponse, "Content-Type is not text/csv"),
        **ERRORS,
    },
)
def upload_interval_data(
    schema: Annotated[str, Query(description="The file's schema: only `load` is supported")],
    file_name: UploadFileName = None,
) -> IngestionResponse:
    answer = upload.upload_file(
        _uploads(),
        _objects(),
        caller_partner_id(app),
        raw_bytes(app.current_event),
        app.current_event.headers.get("content-type"),
        schema=schema,
        file_name=file_name,
    )
    logger.info("Interval file uploaded", extra={"job_id": str(answer.job_id)})
    return answer


@app.post(
    "/v1.1/interval-data/upload-url",
    summary="Ours: a presigned PUT URL (15 minutes) for files too large for POST /v1.1/interval-data",
    operation_id="createIntervalDataUploadUrl",
    tags=TAGS,
    status_code=201,
    responses={
        201: documented(UploadUrlResponse, "The job (QUEUED until the file arrives) and where to PUT the file"),
        **json_body_errors(),
        **ERRORS,
    },
)
def create_upload_url(request: Annotated[UploadUrlRequest, Body()]) -> Response[str]:
    answer = upload.request_upload_url(_uploads(), _objects(), caller_partner_id(app), request)
    logger.info("Interval upload URL issued", extra={"job_id": str(answer.job_id)})
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=serialize(answer.model_dump(mode="json"))
    )


@app.get(
    "/v1.1/jobs/interval-data-uploads",
    summary="List this partner's interval-data uploads (one row per upload job), newest first",
    operation_id="listIntervalDataUploads",
    tags=TAGS,
    responses={200: documented(GetUploadsResponse, "One page of uploads"), **ERRORS},
)
def list_interval_data_uploads(
    from_: Annotated[datetime | None, Query(alias="from", description="uploaded_at on or after (RFC 3339)")] = None,
    to: Annotated[datetime | None, Query(description="uploaded_at on or before (RFC 3339)")] = None,
    file_path: Annotated[
        str | None,
        Query(
            max_length=upload_jobs.MAX_FILE_PATH,
            pattern=upload_jobs.FILE_PATH.pattern,
            description="The uploaded path, exactly, e.g. /interval-data/2025-01-31.csv",
        ),
    ] = None,
    status: Annotated[UploadStatus | None, Query(description="Only uploads in this status")] = None,
    page_size: Annotated[
        int | None, Query(ge=1, le=upload_jobs.MAX_UPLOADS_PAGE, description="1 to 500, default 50")
    ] = None,
    page_token: PageToken = None,
) -> GetUploadsResponse:
    return upload_jobs.list_uploads(
        _uploads(),
        caller_partner_id(app),
        from_=from_,
        to=to,
        file_path=file_path,
        status=status,
        page_size=page_size,
        page_token=page_token,
    )


@app.get(
    "/v1.1/jobs/interval-data-uploads/<job_id>",
    summary="An upload job: status, counters, errors per column and code, and the first 100 errors",
    operation_id="listIntervalDataUploadErrors",
    tags=TAGS,
    responses={200: documented(GetUploadIngestionErrorsResponse, "The job and its errors"), **JOB_ERRORS},
)
def get_interval_data_upload(job_id: JobId) -> GetUploadIngestionErrorsResponse:
    return upload_jobs.get_upload(_uploads(), caller_partner_id(app), job_id)


@app.get(
    "/v1.1/jobs/interval-data-uploads/file-preview/<job_id>",
    summary="The first 20 lines of the job's file (header first)",
    operation_id="intervalDataFilePreview",
    tags=TAGS,
    responses={200: documented(GetIntervalDataFilePreviewResponse, "The preview"), **JOB_ERRORS},
)
def preview_interval_data_upload(job_id: JobId) -> GetIntervalDataFilePreviewResponse:
    return files.preview_upload(_uploads(), _objects(), caller_partner_id(app), job_id)


@app.get(
    "/v1.1/jobs/interval-data-uploads/presigned-url/<job_id>",
    summary="302 to a presigned download (5 minutes) of the job's file where it is now, or of its error report",
    operation_id="intervalDataPresignedUrl",
    tags=TAGS,
    responses={
        302: {
            "description": "Location: the presigned S3 URL; Cache-Control: no-cache, no-store, must-revalidate",
        },
        **JOB_ERRORS,
        404: documented(ErrorResponse, "No such job for this partner, or (file=errors) the job has no error report"),
    },
)
def download_interval_data_upload(
    job_id: JobId,
    file: Annotated[
        DownloadFile,
        Query(
            description="Ours: `original` (default) the uploaded file; `errors` its error report "
            "`<job_id>.errors.csv` (line, column, code, message of every error; FAILED jobs only)"
        ),
    ] = DownloadFile.ORIGINAL,
) -> Response[str]:
    url = files.download_url(_uploads(), _objects(), caller_partner_id(app), job_id, file)
    return Response(
        status_code=302,
        headers={"Location": url, "Cache-Control": "no-cache, no-store, must-revalidate"},
        body="",
    )


@app.get(
    "/v2/meters/<meter_id>/intervals",
    summary="The meter's stored intervals (15-minute or the utility's own length) starting in [start, end)",
    operation_id="getMeterIntervals",
    tags=TAGS,
    responses={
        200: documented(MeterIntervalsResponse, "One page of intervals"),
        **ERRORS,
        400: documented(ErrorResponse, "Malformed meter id or invalid start, end, page_size or page_token"),
        404: documented(ErrorResponse, "No such meter for this partner"),
    },
)
def get_meter_intervals(
    meter_id: MeterId,
    start: Annotated[datetime, Query(description="Intervals starting at or after (RFC 3339)")],
    end: Annotated[datetime, Query(description="Intervals starting before (RFC 3339); at most 31 days after start")],
    page_size: Annotated[
        int | None,
        Query(ge=1, le=reads.MAX_INTERVALS_PAGE, description="1 to 9600, default 960 (10 days)"),
    ] = None,
    page_token: PageToken = None,
) -> MeterIntervalsResponse:
    settings = Settings.load()
    return reads.read_intervals(
        wiring.meter_repository(settings),
        wiring.interval_store(settings),
        caller_partner_id(app),
        meter_id,
        start=start,
        end=end,
        page_size=page_size,
        page_token=page_token,
    )


@app.post(
    "/v1.1/missing-interval-data/search",
    summary="Missing interval ranges of this partner's meters that take partner data, with submission deadlines",
    operation_id="searchMissingIntervalData",
    tags=TAGS,
    responses={
        200: documented(SearchMissingIntervalDataResponse, "One page of missing ranges"),
        **json_body_errors(),
        **ERRORS,
    },
)
def search_missing_interval_data(
    request: Annotated[SearchMissingIntervalDataRequest | None, Body()] = None,
) -> SearchMissingIntervalDataResponse:
    settings = Settings.load()
    return gaps.search_missing_intervals(
        wiring.meter_repository(settings),
        wiring.interval_store(settings),
        caller_partner_id(app),
        request,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
