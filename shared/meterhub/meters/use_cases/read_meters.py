"""Reading meters back: one meter by id, and the filtered, paged search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from meterhub.meters.api_models.responses import (
    Audit,
    ListMeterDetailsResponse,
    ListMeterEnrollmentsResponse,
    MeterDetailsResponse,
    MeterEnrollmentResponse,
    MeterFilterRequest,
)
from meterhub.meters.ports import MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules.enrollment import current_state, enrollment_response
from meterhub.platform import keys, page_tokens
from meterhub.platform.errors import NotFound
from meterhub.platform.ids import parse_id


def parse_meter_id(value: str) -> str:
    """Leap answers a malformed id with 400 'Meter id is not a UUID', echoing the value."""
    return parse_id(value, "meter_id")


def load_meter(repo: MeterRepository, partner_id: str, meter_id: str) -> MeterRecord:
    """A meter of this partner; another partner's meter is indistinguishable from a missing one (404)."""
    meter = repo.get(partner_id, parse_meter_id(meter_id))
    if meter is None:
        raise NotFound("Meter not found", {"meter_id": meter_id})
    return meter


def meter_details(meter: MeterRecord) -> MeterDetailsResponse:
    return MeterDetailsResponse.model_validate(
        {
            **meter.data,
            "meter_id": meter.meter_id,
            "connection_references": meter.connection_references,
            "tags": meter.tags,
            "is_archived": meter.is_archived,
            "audit": Audit(created_by=meter.created_by, created_at=meter.created_at, updated_at=meter.updated_at),
        }
    )


def get_meter(repo: MeterRepository, partner_id: str, meter_id: str) -> MeterDetailsResponse:
    return meter_details(load_meter(repo, partner_id, meter_id))


def get_enrollment(repo: MeterRepository, partner_id: str, meter_id: str, now: datetime) -> MeterEnrollmentResponse:
    """The stored enrollment (as the last write or scheduled run left it)."""
    meter = load_meter(repo, partner_id, meter_id)
    return enrollment_response(meter, current_state(meter, now))


def search_meters(repo: MeterRepository, partner_id: str, request: MeterFilterRequest) -> ListMeterDetailsResponse:
    page, token = _search(repo, partner_id, request)
    return ListMeterDetailsResponse(meters=[meter_details(meter) for meter in page], next_page_token=token)


def search_enrollments(
    repo: MeterRepository, partner_id: str, request: MeterFilterRequest, now: datetime
) -> ListMeterEnrollmentsResponse:
    """Leap's inventory sync: the same filters and paging as the meter search, answered with enrollments."""
    page, token = _search(repo, partner_id, request)
    return ListMeterEnrollmentsResponse(
        meters=[enrollment_response(meter, current_state(meter, now)) for meter in page], next_page_token=token
    )


def _search(
    repo: MeterRepository, partner_id: str, request: MeterFilterRequest
) -> tuple[list[MeterRecord], str | None]:
    """One page of matches in creation order (an immutable key: a meter whose enrollment changes while a client
    pages is never listed twice), and the token of the next page."""
    fingerprint = _fingerprint(request)
    cursor = page_tokens.decode(request.page_token, fingerprint, prefix=keys.CREATED) if request.page_token else None
    page = repo.search(partner_id, _query(request), request.page_size, cursor)
    return page.meters, page_tokens.encode(page.cursor, fingerprint) if page.cursor else None


def _query(request: MeterFilterRequest) -> MeterQuery:
    def texts(values: Sequence[object] | None) -> tuple[str, ...] | None:
        """An absent or empty list does not constrain the search (`"meter_ids": []` lists everything)."""
        return tuple(str(value) for value in values) if values else None

    return MeterQuery(
        meter_ids=texts(request.meter_ids),
        partner_references=texts(request.partner_references),
        transmission_region=request.transmission_region,
        customer_classification=request.customer_classification,
        meter_types=texts(request.meter_types),
        load_types=texts(request.load_types),
        customer_groups=texts(request.customer_groups),
        tags=texts(request.tags),
        connection_references=texts(request.connection_reference_ids),
        created_after=request.created_after_date_time,
        created_before=request.created_before_date_time,
        modified_after=request.last_modified_date_time,
        exclude_archived=request.exclude_archived,
        global_statuses=texts(request.global_enrollment_statuses),
        partner_action_required=request.partner_action_required,
        action_types=texts(request.action_type),
    )


def _fingerprint(request: MeterFilterRequest) -> str:
    return page_tokens.fingerprint(
        request.model_dump(mode="json", exclude={"page_token", "page_size"}, exclude_none=True)
    )
