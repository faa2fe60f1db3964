"""Batch meter jobs and the provisional asset each submitted asset becomes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from meterhub.catalog.enums import ProvisionalAssetStatus
from meterhub.meters.api_models.responses import StatusDetail


class JobStatus(StrEnum):
    PROCESSING = "PROCESSING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"


TERMINAL = frozenset({JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS})


class PayloadFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class MeterJob(BaseModel):
    """A job's state. `next_index` is the resume cursor: the assets before it have their outcome recorded,
    and it advances in the same transaction as each outcome and its counter."""

    job_id: str
    partner_id: str
    status: JobStatus = JobStatus.PROCESSING
    file_name: str
    payload_format: PayloadFormat
    update_existing: bool = False
    assets_count: int
    assets_created_count: int = 0
    assets_updated_count: int = 0
    assets_failed_count: int = Field(default=0, description="Failed, duplicate and multiple-reference assets")
    transmission_regions: list[str] = Field(default_factory=list)
    next_index: int = 0
    failure_reason: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def processed(self) -> int:
        return self.assets_created_count + self.assets_updated_count + self.assets_failed_count

    def final_status(self) -> JobStatus:
        """COMPLETED when every asset made a meter, FAILED when none did, else COMPLETED_WITH_ERRORS."""
        succeeded = self.assets_created_count + self.assets_updated_count
        if succeeded == self.assets_count:
            return JobStatus.COMPLETED
        return JobStatus.FAILED if succeeded == 0 else JobStatus.COMPLETED_WITH_ERRORS


class AssetOutcome(BaseModel):
    """The stored provisional asset: what the partner sent (`data`) and what became of it."""

    job_id: str
    index: int = Field(description="Position in the submitted payload, from 0")
    json_index: int | None = None
    csv_row: int | None = None
    partner_reference: str
    status: ProvisionalAssetStatus
    status_detail: StatusDetail
    meter_id: str | None = None
    created_at: datetime
    data: dict[str, Any]

    @property
    def counter(self) -> str:
        """Which job counter this outcome increments."""
        if self.status is ProvisionalAssetStatus.COMPLETED:
            name = self.status_detail.name
            return "assets_updated_count" if name == "METER_UPDATED" else "assets_created_count"
        return "assets_failed_count"
