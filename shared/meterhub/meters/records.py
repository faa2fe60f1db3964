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


class PeriodEnrollment(BaseModel):
    """The meter in one delivery period of one program. `enrolled_from` is set once, when an enrollment deadline
    of the period passes while the meter is ready for it: the activation the meter is committed to."""

    program_identifier: str
    delivery_period: str
    start: datetime
    end: datetime
    deadline: datetime
    activation: datetime
    status: str  # EnrollmentStatus value
    enrolled_from: datetime | None = None
    market_group_id: str | None = None
    market_group_name: str | None = None


class EnrollmentAction(BaseModel):
    """Something that must happen before the meter can be enrolled: by the partner, or by the program's operator."""

    program_identifier: str
    delivery_period: str
    enrollment_deadline: datetime
    action_type: str  # ActionType value
    action_code: str
    action_description: str


class EnrollmentState(BaseModel):
    """The meter's stored enrollment: what the rules concluded at `evaluated_at`, and `review_at`, the next moment
    time alone can change it (a deadline, an activation, a period's end, an idle period's edge)."""

    evaluated_at: datetime
    global_status: str  # EnrollmentStatus value
    periods: list[PeriodEnrollment] = Field(default_factory=list)
    partner_actions: list[EnrollmentAction] = Field(default_factory=list)
    leap_actions: list[EnrollmentAction] = Field(default_factory=list)
    review_at: datetime

    def same_outcome(self, other: EnrollmentState | None) -> bool:
        """Equal but for when it was evaluated: nothing a partner can see (or an event would say) changed."""
        return other is not None and self.model_dump(exclude={"evaluated_at"}) == other.model_dump(
            exclude={"evaluated_at"}
        )


class ProgramStep(BaseModel):
    """A program-side step an operator performed for the meter (e.g. its market registration), recorded through
    the operator command; `action_type` is the ActionType it settles."""

    program_identifier: str
    action_type: str
    recorded_at: datetime
    note: str | None = None


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
    program_steps: list[ProgramStep] = Field(default_factory=list)
    enrollment: EnrollmentState | None = None

    @property
    def transmission_region(self) -> str:
        return str(self.data["transmission_region"])

    @property
    def meter_type(self) -> str:
        return str(self.data["meter_type"])

    @property
    def customer_classification(self) -> str:
        return str(self.data["customer_classification"])


class MarketGroupPeriod(BaseModel, frozen=True):
    """One market group of one partner in one delivery period: what `meter.enrollment.group.updated` is about
    (Leap's event names the group, its period's dates and its meters)."""

    partner_id: str
    market_group_id: str
    market_group_name: str
    delivery_period: str
    start: datetime
    end: datetime


class GroupChange(BaseModel, frozen=True):
    """The mark that a group's membership changed since its last snapshot was published. `version` is new at
    every change: a publisher clears the mark only if it still holds the version it read, so a change made while
    it published leaves the mark for the next run; and it names the snapshot (its event ids), so a snapshot
    published again after a crash carries the same ids."""

    group: MarketGroupPeriod
    version: str
    changed_at: datetime
