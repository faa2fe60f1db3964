"""Request and response models of the partner API (Leap-compatible shapes). They are the contract: the
OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from meterhub.catalog.enums import (
    ActionType,
    CreatedBy,
    CustomerClassification,
    EnrollmentStatus,
    LoadType,
    MeterType,
    ParticipationPreference,
    ProgramIdentifier,
    ProvisionalAssetStatus,
    StatusDetailName,
    TransmissionRegion,
)
from meterhub.meters.api_models.meter import (
    City,
    CommonUtility,
    CreateMeter,
    Customer,
    PartnerReference,
    PostalCode,
    Street,
    Text256,
    TwoLetterCode,
)
from meterhub.platform.api.envelopes import ApiModel
from meterhub.platform.page_tokens import MAX_PAGE_SIZE


class CreateAssetRequest(ApiModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    onboarding_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="Idempotency key: the same token with the same body returns the first result and creates "
        "nothing new; the same token with a different body is a 409.",
    )
    provisional_asset: CreateMeter


class StatusDetail(ApiModel):
    name: StatusDetailName | None = None
    description: str | None = None
    failed_fields: dict[str, str] | None = None


class ProvisionalAsset(ApiModel):
    """The outcome of one submitted asset."""

    job_id: UUID
    partner_reference: str
    status: ProvisionalAssetStatus
    status_detail: StatusDetail
    created_at: datetime
    meter_id: UUID | None = None
    data: CreateMeter


class Audit(ApiModel):
    created_by: CreatedBy
    created_at: datetime
    updated_at: datetime


_AWAITED = " Absent while the meter awaits its service address (required action ADDRESS)."


class MeterCustomer(Customer):
    """The customer block as read back: a Connect meter whose utility sent no service address exists before
    its address does (it is PENDING with the ADDRESS required action), so the address parts may be absent."""

    # Loosening the parts to optional is what the read side means; mypy's override rule is silenced for them only.

    street_1: Street | None = Field(None, description="Street and number where the asset is." + _AWAITED)  # type: ignore[assignment]
    postal_code: PostalCode | None = Field(None, description="ZIP or ZIP+4 code of the asset's address." + _AWAITED)  # type: ignore[assignment]
    city: City | None = Field(None, description="City of the asset's address." + _AWAITED)  # type: ignore[assignment]
    state_or_province_code: TwoLetterCode | None = Field(None, description="Two-letter state code." + _AWAITED)  # type: ignore[assignment]
    country_code: TwoLetterCode | None = Field(None, description="ISO 3166-1 alpha-2 country code." + _AWAITED)  # type: ignore[assignment]


class MeterUtility(CommonUtility):
    """The utility block as read back: what the partner sent, and the numbers on the customer's bill where the
    utility supplies them (a Connect meter whose utility sends its customer account and agreement). Partners
    cannot set these; a meter without them leaves them out."""

    bill_service_agreement_number: Text256 | None = Field(
        None,
        description="The service agreement number on the customer's bill, the one the customer quotes to the "
        "utility (the utility may call it otherwise). From the utility only.",
    )
    bill_customer_account_number: Text256 | None = Field(
        None,
        description="The customer account number on the customer's bill; one account may hold several service "
        "agreements. From the utility only.",
    )


class MeterDetailsResponse(CreateMeter):
    """A meter as partners read it: their data plus our identifiers and audit."""

    model_config = ConfigDict(defer_build=True)

    customer: MeterCustomer = Field(description="Service address and customer contact.")
    utility: MeterUtility | None = Field(None, description="Utility account details.")
    meter_id: UUID
    connection_references: list[str] = Field(default_factory=list, description="Connect refIds of the meter")
    tags: list[str] = Field(default_factory=list)
    is_archived: bool = False
    audit: Audit


class ListMeterDetailsResponse(ApiModel):
    meters: list[MeterDetailsResponse]
    next_page_token: str | None = Field(default=None, description="Present only when more meters may follow")


UniqueIds = Annotated[list[UUID], Field(max_length=1000)]


class MeterFilterRequest(ApiModel):
    """POST /v2/meters/search: every filter optional, all AND-ed; lists match any of their values."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    page_token: str | None = Field(default=None, max_length=2048)
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    transmission_region: TransmissionRegion | None = None
    customer_classification: CustomerClassification | None = None
    meter_ids: UniqueIds | None = None
    partner_references: Annotated[list[PartnerReference], Field(min_length=1, max_length=1000)] | None = None
    meter_types: Annotated[list[MeterType], Field(min_length=1, max_length=20)] | None = None
    load_types: Annotated[list[LoadType], Field(min_length=1, max_length=20)] | None = None
    customer_groups: Annotated[list[Text256], Field(min_length=1, max_length=20)] | None = None
    tags: Annotated[list[Text256], Field(min_length=1, max_length=20)] | None = None
    connection_reference_ids: Annotated[list[Text256], Field(min_length=1, max_length=100)] | None = None
    last_modified_date_time: AwareDatetime | None = None
    created_after_date_time: AwareDatetime | None = None
    created_before_date_time: AwareDatetime | None = None
    exclude_archived: bool = False
    global_enrollment_statuses: Annotated[list[EnrollmentStatus], Field(min_length=1, max_length=5)] | None = None
    partner_action_required: bool = Field(
        default=False, description="true: only meters with a required action on the partner's side"
    )
    action_type: Annotated[list[ActionType], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Only meters with a required action (partner's or Leap's) of one of these types"
    )


class ParticipationPreferenceEntry(ApiModel):
    participation_preference: ParticipationPreference
    start_time: datetime
    end_time: datetime | None = None
    reason: str | None = None


class EnrollmentDeadline(ApiModel):
    enrollment_deadline_date_time: datetime
    activation_date_time: datetime


class ProgramEnrollment(ApiModel):
    program_identifier: ProgramIdentifier
    delivery_period: str
    delivery_period_start_date_time: datetime
    delivery_period_end_date_time: datetime
    enrollment_status: EnrollmentStatus
    enrollment_deadlines: list[EnrollmentDeadline]
    market_group_id: UUID | None = Field(
        default=None, description="The market group the meter is in for this delivery period, once enrolled in it"
    )
    market_group_name: str | None = Field(default=None, description="The market group's name, e.g. DRAM_PGE_PGE_PGSB")


class RequiredAction(ApiModel):
    program_identifier: ProgramIdentifier
    delivery_period: str
    enrollment_deadline_date_time: datetime
    action_type: ActionType
    action_description: str
    action_code: str


class RequiredActions(ApiModel):
    partner: list[RequiredAction] = Field(default_factory=list)
    leap: list[RequiredAction] = Field(default_factory=list)


class MeterEnrollmentResponse(ApiModel):
    meter_id: UUID
    partner_reference: str
    transmission_region: TransmissionRegion
    customer_classification: CustomerClassification
    meter_type: MeterType
    load_types: list[LoadType]
    customer_group: str | None = None
    connection_references: list[str] = Field(default_factory=list, description="Connect refIds of the meter")
    tags: list[str]
    is_archived: bool
    audit: Audit
    global_enrollment_status: EnrollmentStatus
    participation_preferences: list[ParticipationPreferenceEntry]
    program_enrollment: list[ProgramEnrollment]
    required_actions: RequiredActions


class ListMeterEnrollmentsResponse(ApiModel):
    meters: list[MeterEnrollmentResponse]
    next_page_token: str | None = Field(default=None, description="Present only when more meters may follow")


class KeyValueFilter(ApiModel):
    key: str
    values: list[str]


class FiltersResponse(ApiModel):
    filter_options: list[KeyValueFilter]
