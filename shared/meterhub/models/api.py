"""Request and response models of the partner API (Leap-compatible shapes). They are the contract: the
OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from meterhub.models.enums import (
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
from meterhub.models.meter import CreateMeter, PartnerReference, Text256

MAX_PAGE_SIZE = 500


class ApiModel(BaseModel):
    """Response and filter models build their validators on first use: a Lambda instance serves a few routes
    and should not pay at cold start for the schemas of the others."""

    model_config = ConfigDict(defer_build=True)


class ErrorResponse(ApiModel):
    """Leap's error envelope for every non-2xx answer of the meter APIs."""

    title: str = Field(min_length=1, max_length=2000)
    status: int
    details: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)


class FieldSuggestion(ApiModel):
    field: str | None = None
    suggestion: Any = None


class Suggestion(ApiModel):
    suggestions: list[FieldSuggestion] = Field(default_factory=list)


class CreateMeterError(ApiModel):
    field: str | None = Field(default=None, description="Dot path of the failing field in the request body")
    description: str = Field(description="What is wrong, naming the rule")
    suggestions: list[Suggestion] = Field(default_factory=list)


class CreateMeterErrorResponse(ApiModel):
    """400 of POST /v1.1/meters: every failing field, not just the first."""

    errors: list[CreateMeterError]


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


class MeterDetailsResponse(CreateMeter):
    """A meter as partners read it: their data plus our identifiers and audit."""

    model_config = ConfigDict(defer_build=True)

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
    tags: list[str]
    is_archived: bool
    audit: Audit
    global_enrollment_status: EnrollmentStatus
    participation_preferences: list[ParticipationPreferenceEntry]
    program_enrollment: list[ProgramEnrollment]
    required_actions: RequiredActions


# ----- batch jobs and provisional assets ---------------------------------------------------------------------
class CreateMeterBatchJobResponse(ApiModel):
    job_id: UUID


class BatchValidationError(ApiModel):
    """Leap's ValidationError: what is wrong with a batch request, and where."""

    message: str
    json_index: int | None = None
    csv_row: int | None = None
    problem_field: str | None = None


class AssetUploadStatus(ApiModel):
    partner_reference: str
    status: ProvisionalAssetStatus
    status_detail: StatusDetail
    created_at: datetime
    meter_id: UUID | None = None


class ListedProvisionalAsset(AssetUploadStatus):
    """A provisional asset as listed: `data` is what was submitted, valid or not."""

    job_id: UUID
    data: dict[str, Any]


class Job(ApiModel):
    job_id: UUID
    status: str
    file_name: str | None = None
    assets_count: int
    assets_created_count: int
    assets_updated_count: int
    assets_failed_count: int = Field(description="Failed, duplicate and multiple-reference assets")
    transmission_regions: list[str]
    failure_reason: str | None = Field(default=None, description="Why a job ended FAILED as a whole (ours)")
    created_at: datetime
    updated_at: datetime


class JobAndAssets(Job):
    assets: list[AssetUploadStatus]
    next_page_token: str | None = Field(
        default=None, description="Ours: present when the job has more assets than this page (use page_token)"
    )


class PagedJobs(ApiModel):
    jobs: list[Job]
    next_page_token: str | None = None


class ListProvisionalAssetsResponse(ApiModel):
    provisional_assets: list[ListedProvisionalAsset]
    next_page_token: str | None = None


class KeyValueFilter(ApiModel):
    key: str
    values: list[str]


class FiltersResponse(ApiModel):
    filter_options: list[KeyValueFilter]
