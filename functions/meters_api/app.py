"""Partner-created meters: single create, read, search and enrollment status (transport only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meters.api_models.maintenance import (
    ArchiveMetersRequest,
    MeterTagsRequest,
    PartnerMeterRefRequest,
    PartnerMeterRefsRequest,
)
from meterhub.meters.api_models.params import MeterId
from meterhub.meters.api_models.participation import (
    BulkDisenrollRequest,
    BulkIdlePeriodRequest,
    BulkParticipateRequest,
    DisenrollRequest,
    IdlePeriodRequest,
    ParticipateRequest,
)
from meterhub.meters.api_models.responses import (
    CreateAssetRequest,
    ListMeterDetailsResponse,
    ListMeterEnrollmentsResponse,
    MeterDetailsResponse,
    MeterEnrollmentResponse,
    MeterFilterRequest,
    ProvisionalAsset,
)
from meterhub.meters.use_cases import maintain_meters, participation, read_meters
from meterhub.meters.use_cases.correct_reference import correct_reference, correct_references
from meterhub.meters.use_cases.create_meter import AssetRejected, connect_link, create_meter, idempotent_create
from meterhub.platform.api.envelopes import CreateMeterErrorResponse, ErrorResponse
from meterhub.platform.api.error_envelopes import asset_errors, asset_errors_response
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented, json_body_errors
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import IdempotencyTableSettings, MetersTableSettings, PartnersTableSettings


class Settings(MetersTableSettings, PartnersTableSettings, IdempotencyTableSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


CREATE_METER = "/v1.1/meters"
app = build_resolver(invalid_requests={CREATE_METER: asset_errors})

NOT_FOUND: dict[int, OpenAPIResponse] = {
    400: documented(ErrorResponse, "Malformed meter id"),
    404: documented(ErrorResponse, "No such meter for this partner"),
}


@app.exception_handler(AssetRejected)
def asset_rejected(error: AssetRejected) -> Response[str]:
    return asset_errors_response(error.errors, prefix="provisional_asset.")


@app.post(
    CREATE_METER,
    summary="Create one meter (synchronous)",
    operation_id="createSingleMeter",
    tags=["Meters"],
    responses={
        200: documented(ProvisionalAsset, "The provisional asset: COMPLETED (created or updated) or DUPLICATE"),
        400: documented(CreateMeterErrorResponse, "Invalid asset: every failing field"),
        409: documented(ErrorResponse, "onboarding_token reused with another body"),
        **json_body_errors(),
    },
)
def create_single_meter(
    request: Annotated[CreateAssetRequest, Body()],
    update_existing: Annotated[bool, Query(description="Overwrite the meter that has this partner_reference")] = False,
) -> ProvisionalAsset:
    settings = Settings.load()
    partner_id = caller_partner_id(app)
    meters = wiring.meter_repository(settings)
    connect = connect_link(wiring.partner_repository(settings), partner_id)
    if request.onboarding_token is None:
        return create_meter(
            meters, partner_id, request.provisional_asset, update_existing=update_existing, connect=connect
        )
    create_once = idempotent_create(settings.idempotency_table_name)
    return create_once(
        partner_id=partner_id,
        onboarding_token=request.onboarding_token,
        asset=request.provisional_asset,
        update_existing=update_existing,
        repo=meters,
        connect=connect,
        lambda_context=app.lambda_context,
    )


@app.post(
    "/v2/meters/search",
    summary="Search this partner's meters",
    operation_id="searchMeterDetails",
    tags=["Meters"],
    responses={
        200: documented(ListMeterDetailsResponse, "One page of meters"),
        400: documented(ErrorResponse, "Invalid filter"),
        **json_body_errors(),
    },
)
def search_meters(filters: Annotated[MeterFilterRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    return read_meters.search_meters(meters, caller_partner_id(app), filters)


@app.get(
    "/v2/meters/<meter_id>",
    summary="Get one meter",
    operation_id="getMeterDetails",
    tags=["Meters"],
    responses={
        200: documented(MeterDetailsResponse, "The meter"),
        **NOT_FOUND,
    },
)
def get_meter(meter_id: MeterId) -> MeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    return read_meters.get_meter(meters, caller_partner_id(app), meter_id)


@app.get(
    "/v2/meters/<meter_id>/enrollments",
    summary="Per-program enrollment status of one meter",
    operation_id="getMeterEnrollment",
    tags=["Enrollment"],
    responses={
        200: documented(MeterEnrollmentResponse, "The meter's stored enrollment, per program and delivery period"),
        **NOT_FOUND,
    },
)
def get_meter_enrollment(meter_id: MeterId) -> MeterEnrollmentResponse:
    meters = wiring.meter_repository(Settings.load())
    return read_meters.get_enrollment(meters, caller_partner_id(app), meter_id, datetime.now(UTC))


@app.post(
    "/v2/meters/enrollments/search",
    summary="Search this partner's meters' enrollments (inventory sync)",
    operation_id="searchMeterEnrollments",
    tags=["Enrollment"],
    responses={
        200: documented(ListMeterEnrollmentsResponse, "One page of meters' enrollments, in creation order"),
        400: documented(ErrorResponse, "Invalid filter"),
        **json_body_errors(),
    },
)
def search_meter_enrollments(filters: Annotated[MeterFilterRequest, Body()]) -> ListMeterEnrollmentsResponse:
    meters = wiring.meter_repository(Settings.load())
    return read_meters.search_enrollments(meters, caller_partner_id(app), filters, datetime.now(UTC))


CHANGE_ERRORS: dict[int, OpenAPIResponse] = {
    400: documented(ErrorResponse, "Invalid request, or a rule a meter would break: nothing changed"),
    404: documented(ErrorResponse, "A named meter does not exist for this partner: nothing changed"),
    409: documented(ErrorResponse, "The meters kept changing concurrently; retry"),
    **json_body_errors(),
}

METER_TAGS = "/v1.1/meters/tags"


@app.post(
    METER_TAGS,
    summary="Add tags to meters",
    description="Every named meter gets the tags it lacks, or, if any meter would break a rule, none does.",
    operation_id="addMeterTags",
    tags=["Meters"],
    responses={200: documented(ListMeterDetailsResponse, "The named meters as they are now"), **CHANGE_ERRORS},
)
def add_meter_tags(request: Annotated[MeterTagsRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    change = maintain_meters.adding_tags(request.tags)
    return maintain_meters.change_meters(meters, caller_partner_id(app), request.meter_ids, change)


@app.delete(
    METER_TAGS,
    summary="Remove tags from meters",
    description="The named tags are taken off every named meter (a tag a meter lacks is no error).",
    operation_id="removeMeterTags",
    tags=["Meters"],
    responses={200: documented(ListMeterDetailsResponse, "The named meters as they are now"), **CHANGE_ERRORS},
)
def remove_meter_tags(request: Annotated[MeterTagsRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    change = maintain_meters.removing_tags(request.tags)
    return maintain_meters.change_meters(meters, caller_partner_id(app), request.meter_ids, change)


METER_ARCHIVE = "/v1.1/meters/archive"


@app.post(
    METER_ARCHIVE,
    summary="Archive meters",
    description="Sets is_archived on every named meter (or none); search leaves them out with exclude_archived.",
    operation_id="archiveMeters",
    tags=["Meters"],
    responses={200: documented(ListMeterDetailsResponse, "The named meters as they are now"), **CHANGE_ERRORS},
)
def archive_meters(request: Annotated[ArchiveMetersRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    return maintain_meters.change_meters(
        meters, caller_partner_id(app), request.meter_ids, maintain_meters.archiving(True)
    )


@app.delete(
    METER_ARCHIVE,
    summary="Restore archived meters",
    description="Clears is_archived on every named meter (or none).",
    operation_id="unarchiveMeters",
    tags=["Meters"],
    responses={200: documented(ListMeterDetailsResponse, "The named meters as they are now"), **CHANGE_ERRORS},
)
def unarchive_meters(request: Annotated[ArchiveMetersRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    return maintain_meters.change_meters(
        meters, caller_partner_id(app), request.meter_ids, maintain_meters.archiving(False)
    )


@app.patch(
    "/v1.1/meters/<meter_id>/partner_meter_ref",
    summary="Correct a meter's partner reference",
    description="The reference must not name another of the partner's meters (then nothing changes).",
    operation_id="updatePartnerMeterRef",
    tags=["Meters"],
    responses={
        200: documented(MeterDetailsResponse, "The meter under its corrected reference"),
        400: documented(ErrorResponse, "Malformed meter id or reference"),
        404: documented(ErrorResponse, "No such meter for this partner"),
        409: documented(
            ErrorResponse, "Another meter has this reference (DUPLICATE_REF_ID), or the meter kept changing"
        ),
        **json_body_errors(),
    },
)
def update_partner_meter_ref(
    meter_id: MeterId, request: Annotated[PartnerMeterRefRequest, Body()]
) -> MeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    return correct_reference(meters, caller_partner_id(app), meter_id, request.partner_reference)


@app.patch(
    "/v1.1/meters/partner_meter_ref",
    summary="Correct several meters' partner references",
    description="All corrections are applied or none; references may trade places within one request.",
    operation_id="updatePartnerMeterRefs",
    tags=["Meters"],
    responses={
        200: documented(ListMeterDetailsResponse, "The meters under their corrected references"),
        400: documented(ErrorResponse, "Invalid request, or a meter or reference named twice: nothing changed"),
        404: documented(ErrorResponse, "A named meter does not exist for this partner: nothing changed"),
        409: documented(ErrorResponse, "Another meter has a reference (DUPLICATE_REF_ID), or the meters kept changing"),
        **json_body_errors(),
    },
)
def update_partner_meter_refs(request: Annotated[PartnerMeterRefsRequest, Body()]) -> ListMeterDetailsResponse:
    meters = wiring.meter_repository(Settings.load())
    corrections = [(str(m.meter_id), m.partner_reference) for m in request.meters]
    return correct_references(meters, caller_partner_id(app), corrections)


PARTICIPATION_ERRORS: dict[int, OpenAPIResponse] = {
    400: documented(ErrorResponse, "Malformed meter id, or a time or period the meter cannot take: nothing changed"),
    404: documented(ErrorResponse, "No such meter for this partner"),
    409: documented(ErrorResponse, "The meter kept changing concurrently; retry"),
    **json_body_errors(),
}
AFTER_PARTICIPATION = documented(MeterEnrollmentResponse, "The meter's enrollment with the request applied")


@app.post(
    "/v1.1/enrollment/meters/<meter_id>/participate",
    summary="Have a meter participate again",
    description="From start_time (now when absent) the meter participates: idle periods and its disenrollment end "
    "there. Times are the meter's local time with its UTC offset.",
    operation_id="participateMeter",
    tags=["Enrollment"],
    responses={200: AFTER_PARTICIPATION, **PARTICIPATION_ERRORS},
)
def participate_meter(meter_id: MeterId, request: Annotated[ParticipateRequest, Body()]) -> MeterEnrollmentResponse:
    meters = wiring.meter_repository(Settings.load())
    answer = participation.request_participation(meters, caller_partner_id(app), meter_id, request.start_time)
    return participation.only(answer)


@app.post(
    "/v1.1/enrollment/meters/<meter_id>/idle",
    summary="Idle a meter for a period",
    description="The meter does not participate from start_time to end_time (the meter's local time, with its UTC "
    "offset); a meter's idle periods may not overlap.",
    operation_id="idleMeter",
    tags=["Enrollment"],
    responses={200: AFTER_PARTICIPATION, **PARTICIPATION_ERRORS},
)
def idle_meter(meter_id: MeterId, request: Annotated[IdlePeriodRequest, Body()]) -> MeterEnrollmentResponse:
    meters = wiring.meter_repository(Settings.load())
    return participation.only(
        participation.request_idle(
            meters, caller_partner_id(app), meter_id, request.start_time, request.end_time, request.reason
        )
    )


@app.post(
    "/v1.1/enrollment/meters/<meter_id>/disenroll",
    summary="Disenroll a meter",
    description="The meter stops participating from start_time (the meter's local time, with its UTC offset) until "
    "it is asked to participate again; a new disenrollment replaces the meter's earlier one.",
    operation_id="disenrollMeter",
    tags=["Enrollment"],
    responses={200: AFTER_PARTICIPATION, **PARTICIPATION_ERRORS},
)
def disenroll_meter(meter_id: MeterId, request: Annotated[DisenrollRequest, Body()]) -> MeterEnrollmentResponse:
    meters = wiring.meter_repository(Settings.load())
    return participation.only(
        participation.request_disenrollment(
            meters, caller_partner_id(app), meter_id, request.start_time, request.reason
        )
    )


BULK_PARTICIPATION_ERRORS: dict[int, OpenAPIResponse] = {
    **PARTICIPATION_ERRORS,
    404: documented(ErrorResponse, "A named meter does not exist for this partner: nothing changed"),
    409: documented(ErrorResponse, "The meters kept changing concurrently; retry"),
}
AFTER_BULK_PARTICIPATION = documented(ListMeterEnrollmentsResponse, "Each meter's enrollment with the request applied")


@app.post(
    "/v1.1/enrollment/meters/participate",
    summary="Have several meters participate again",
    description="The bulk form of the one-meter request (ours: Leap publishes none): every named meter or none.",
    operation_id="participateMeters",
    tags=["Enrollment"],
    responses={200: AFTER_BULK_PARTICIPATION, **BULK_PARTICIPATION_ERRORS},
)
def participate_meters(request: Annotated[BulkParticipateRequest, Body()]) -> ListMeterEnrollmentsResponse:
    meters = wiring.meter_repository(Settings.load())
    return participation.request_participation(meters, caller_partner_id(app), request.meter_ids, request.start_time)


@app.post(
    "/v1.1/enrollment/meters/idle",
    summary="Idle several meters for a period",
    description="The bulk form of the one-meter request (ours: Leap publishes none): every named meter or none; an "
    "idle period overlapping one of a meter's own refuses the whole request.",
    operation_id="idleMeters",
    tags=["Enrollment"],
    responses={200: AFTER_BULK_PARTICIPATION, **BULK_PARTICIPATION_ERRORS},
)
def idle_meters(request: Annotated[BulkIdlePeriodRequest, Body()]) -> ListMeterEnrollmentsResponse:
    meters = wiring.meter_repository(Settings.load())
    return participation.request_idle(
        meters, caller_partner_id(app), request.meter_ids, request.start_time, request.end_time, request.reason
    )


@app.post(
    "/v1.1/enrollment/meters/disenroll",
    summary="Disenroll several meters",
    description="The bulk form of the one-meter request (ours: Leap publishes none): every named meter or none.",
    operation_id="disenrollMeters",
    tags=["Enrollment"],
    responses={200: AFTER_BULK_PARTICIPATION, **BULK_PARTICIPATION_ERRORS},
)
def disenroll_meters(request: Annotated[BulkDisenrollRequest, Body()]) -> ListMeterEnrollmentsResponse:
    meters = wiring.meter_repository(Settings.load())
    return participation.request_disenrollment(
        meters, caller_partner_id(app), request.meter_ids, request.start_time, request.reason
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
