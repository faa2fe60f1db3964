"""The stored meter: the partner's data plus what we add (id, audit, references, version)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from meterhub.catalog.enums import CreatedBy


class UtilityLink(BaseModel):
    """Which utility authorization feeds this meter (Connect). `status` mirrors the authorization's so the
    derived enrollment can ask the partner for a re-authorization without reading the Connect table."""

    authorization_id: str
    utility_id: str
    usage_point_id: str
    status: str  # AuthorizationStatus value: COMPLETED, REVOKED or FAILED
    expires_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.status == "COMPLETED" and (self.expires_at is None or self.expires_at > now)


class NonParticipation(BaseModel):
    """A period the partner took the meter out of participation: IDLE (bounded) or DISENROLL (`end_time` None:
    until the partner asks it to participate again). Stored as UTC instants, whatever offset the request used."""

    preference: str  # ParticipationPreference value: IDLE or DISENROLL
    start_time: datetime
    end_time: datetime | None = None
    reason: str | None = None

    def covers(self, start: datetime, end: datetime) -> bool:
        """The whole of [start, end) falls within this period."""
        return self.start_time <= start and (self.end_time is None or end <= self.end_time)


class MeterRecord(BaseModel):
    """One meter as kept in storage. `data` is the validated CreateMeter document (JSON mode, no nulls)."""

    meter_id: str
    partner_id: str
    partner_reference: str
    data: dict[str, Any]
    created_by: CreatedBy = CreatedBy.PARTNER
    created_at: datetime
    updated_at: datetime
    connection_references: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    is_archived: bool = False
    version: int = 1
    utility_link: UtilityLink | None = None
    non_participation: list[NonParticipation] = Field(default_factory=list)

    @property
    def transmission_region(self) -> str:
        return str(self.data["transmission_region"])

    @property
    def meter_type(self) -> str:
        return str(self.data["meter_type"])

    @property
    def customer_classification(self) -> str:
        return str(self.data["customer_classification"])
