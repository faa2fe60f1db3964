"""Batch meter jobs: submit (JSON or CSV), read, list and filter jobs and provisional assets (transport only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meter_jobs.api_models import (
    CreateMeterBatchJobResponse,
    JobAndAssets,
    ListProvisionalAssetsResponse,
    PagedJobs,
)
from meterhub.meter_jobs.use_cases import jobs as meter_jobs
from meterhub.meters.api_models.responses import FiltersResponse
from meterhub.platform.api.accept import CSV, json_or_csv
from meterhub.platform.api.envelopes import BatchValidationError, ErrorResponse, serialize
from meterhub.platform.api.error_envelopes import validation_error, validation_error_response
from meterhub.platform.api.params import PAGE_TOKEN_MAX_LENGTH, PageToken, uuid_path
from meterhub.platform.api.request_body import raw_bytes
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented
from meterhub.platform.errors import InvalidInput
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import DataBucketSettings, JobsTableSettings, MeterJobsQueueSettings


class Settings(JobsTableSettings, DataBucketSettings, MeterJobsQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


ASSETS = "/v1.1/provisional-assets"
app = build_resolver(invalid_requests={ASSETS: validation_error})
"""The provisional-asset listing answers every refused query in Leap's bare ValidationError, whichever check
refused it (a parameter's type or count here, a filter's value in the use case)."""

ERRORS: dict[int, OpenAPIResponse] = {
    400: documented(ErrorResponse, "Invalid request; details[] name each problem"),
}

FilterParam = Annotated[
    list[str] | None,
    Query(
        alias="filter",
        max_length=meter_jobs.MAX_FILTERS,
        description="key:value[,value]; repeat for AND, commas for IN; values outside a key's set are a 400",
    ),
]
SearchQuery = Annotated[str | None, Query(description="Free text; commas separate alternatives")]
SearchFields = Annotated[
    list[str] | None,
    Query(max_length=meter_jobs.MAX_FILTERS, description="Fields to search (required with search_query)"),
]
PageSize = Annotated[int | None, Query(ge=1, le=meter_jobs.MAX_PAGE_SIZE, description="Default 100, at most 1000")]
AssetsPageSize = Annotated[
    int | None,
    Query(
        description="Default 100, at most 1000",
        json_schema_extra={"minimum": 1, "maximum": meter_jobs.MAX_PAGE_SIZE},
    ),
]
"""`PageSize` documented only: the provisional-asset list answers an unsupported Accept with its 415 before a bad
page_size (Leap's bare ValidationError), which a route-level refusal would answer first."""
AssetsPageToken = Annotated[
    str | None,
    Query(description="next_page_token of the previous page", json_schema_extra={"maxLength": PAGE_TOKEN_MAX_LENGTH}),
]
"""`PageToken` documented only, for the same reason as `AssetsPageSize`."""
JobId = Annotated[str, uuid_path("The job's UUID")]
"""Documented as a UUID, refused by `get_job` (Leap's 400 "Job id is not a UUID", which reads every spelling
uuid.UUID reads)."""
FileName = Annotated[
    str | None,
    Query(
        description="Stored as the job's file_name",
        json_schema_extra={
            "maxLength": meter_jobs.MAX_FILE_NAME_LENGTH,
            "pattern": meter_jobs.FILE_NAME_PATTERN.pattern,
        },
    ),
]
"""Documented only: `submit_job` refuses it with a details[] entry naming file_name (the shape of this route's
other whole-request errors), which a route-level refusal would not keep."""


def _jobs() -> Any:
    return wiring.job_repository(Settings.load())


@app.post(
    "/v1.1/jobs/meters",
    summary="Create meters in bulk (asynchronous): application/json {assets: [...]} or text/csv",
    operation_id="createMeterBatchJob",
    tags=["Meter jobs"],
    status_code=201,
    responses={
        201: documented(CreateMeterBatchJobResponse, "The job was accepted; poll GET /v1.1/jobs/meters/{job_id}"),
        413: documented(ErrorResponse, "Body over 5 MB or more than 25,000 assets"),
        415: documented(ErrorResponse, "Content-Type is neither application/json nor text/csv"),
        **ERRORS,
    },
)
def create_meter_job(
    update_existing: Annotated[bool, Query(description="Overwrite meters whose partner_reference exists")] = False,
    file_name: FileName = None,
) -> Response[str]:
    settings = Settings.load()
    job_id = meter_jobs.submit_job(
        _jobs(),
        wiring.data_objects(settings),
        wiring.meter_jobs_queue(settings),
        caller_partner_id(app),
        raw_bytes(app.current_event),
        app.current_event.headers.get("content-type"),
        update_existing=update_existing,
        file_name=file_name,
    )
    logger.info("Meter job accepted", extra={"job_id": job_id})
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=serialize({"job_id": job_id}))


@app.get(
    "/v1.1/jobs/meters",
    summary="List this partner's meter jobs, newest first",
    operation_id="listMeterBatchJobs",
    tags=["Meter jobs"],
    responses={200: documented(PagedJobs, "One page of jobs"), **ERRORS},
)
def list_meter_jobs(
    filters: FilterParam = None,
    search_query: SearchQuery = None,
    search_fields: SearchFields = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
) -> PagedJobs:
    query = meter_jobs.parse_list_query(
        filters,
        search_query,
        search_fields,
        page_size,
        page_token,
        filter_keys=meter_jobs.JOB_FILTERS,
        searchable=meter_jobs.JOB_SEARCH,
    )
    return meter_jobs.list_jobs(_jobs(), caller_partner_id(app), query)


@app.get(
    "/v1.1/jobs/meters/<job_id>",
    summary="A job's status, counters and per-asset results",
    operation_id="getMeterBatchJob",
    tags=["Meter jobs"],
    responses={
        200: documented(JobAndAssets, "The job and (1,000 at a time) its assets"),
        404: documented(ErrorResponse, "No such job for this partner"),
        **ERRORS,
    },
)
def get_meter_job(job_id: JobId, page_token: PageToken = None) -> JobAndAssets:
    return meter_jobs.get_job(_jobs(), caller_partner_id(app), job_id, page_token)


@app.get(
    "/v1.1/jobs/meter-job-filters",
    summary="Filter keys and values for the job list",
    operation_id="listMeterBatchJobsFilters",
    tags=["Meter jobs"],
    responses={200: documented(FiltersResponse, "Filter options"), **ERRORS},
)
def meter_job_filters() -> FiltersResponse:
    return meter_jobs.job_filters(_jobs(), caller_partner_id(app))


@app.get(
    ASSETS,
    summary="Provisional assets across jobs, newest first (JSON, or CSV with Accept: text/csv)",
    operation_id="listProvisionalAssets",
    tags=["Meter jobs"],
    responses={
        200: documented(ListProvisionalAssetsResponse, "One page of provisional assets"),
        400: documented(BatchValidationError, "Invalid filter (Leap's bare ValidationError)"),
        415: documented(ErrorResponse, "Accept is neither application/json nor text/csv"),
    },
)
def list_provisional_assets(
    filters: FilterParam = None,
    search_query: SearchQuery = None,
    search_fields: SearchFields = None,
    page_size: AssetsPageSize = None,
    page_token: AssetsPageToken = None,
) -> Response[str]:
    answer_in = json_or_csv(app.current_event.headers.get("accept"))
    try:
        query = meter_jobs.parse_list_query(
            filters,
            search_query,
            search_fields,
            page_size,
            page_token,
            filter_keys=meter_jobs.ASSET_FILTERS,
            searchable=meter_jobs.ASSET_SEARCH,
        )
        page = meter_jobs.list_provisional_assets(_jobs(), caller_partner_id(app), query)
    except InvalidInput as error:
        return validation_error_response(error)
    if answer_in == CSV:
        return Response(200, CSV, meter_jobs.provisional_assets_csv(page))
    return Response(200, content_types.APPLICATION_JSON, serialize(page.model_dump(mode="json")))


@app.get(
    "/v1.1/provisional-assets-filters",
    summary="Filter keys and values for the provisional-asset list",
    operation_id="listProvisionalAssetsFilters",
    tags=["Meter jobs"],
    responses={200: documented(FiltersResponse, "Filter options"), **ERRORS},
)
def provisional_asset_filters() -> FiltersResponse:
    return meter_jobs.provisional_asset_filters(_jobs(), caller_partner_id(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
