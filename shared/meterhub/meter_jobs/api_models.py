"""The meter jobs API's response models (Leap's job and provisional-asset shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from meterhub.catalog.enums import (
    ProvisionalAssetStatus,
)
from meterhub.meters.api_models.responses import StatusDetail
from meterhub.platform.api.envelopes import ApiModel


# ----- batch jobs and provisional assets ---------------------------------------------------------------------
class CreateMeterBatchJobResponse(ApiModel):
    job_id: UUID


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
