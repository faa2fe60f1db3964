"""Request models of meter maintenance: tags, archiving and partner-reference corrections.

Leap's reference lists these operations (tags `POST|DELETE /v1.1/meters/tags`, `PATCH .../partner_meter_ref`) but
no published spec gives their bodies, so the shapes follow Leap's own: meters named by `meter_ids`, tags as
`MeterDetailsResponse.tags` declares them (1-128 characters, the street pattern), a reference as create's.
Leap documents no way to set `is_archived` at all: `POST|DELETE /v1.1/meters/archive` is ours, the tags
operations' twin (same `meter_ids`, same all-or-nothing answer).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field

from meterhub.meters.api_models.meter import PartnerReference, Street
from meterhub.platform.api.envelopes import ApiModel

MAX_TAGS_PER_METER = 20
"""A meter holds at most this many tags (the search filter's `tags` takes at most 20 too)."""

MAX_METERS_PER_CHANGE = 100
"""Meters one maintenance request may name: the change is one DynamoDB transaction (at most 100 items), so
it is applied to every named meter or to none."""

Tag = Street
"""Leap declares a meter's tags exactly as a street line: 1-128 characters of the street pattern."""

MAX_REFERENCE_CORRECTIONS = 33
"""Corrections one bulk request may carry: each is up to three writes of one 100-item DynamoDB transaction."""

MeterIds = Annotated[list[UUID], Field(min_length=1, max_length=MAX_METERS_PER_CHANGE)]


class MeterTagsRequest(ApiModel):
    """`POST|DELETE /v1.1/meters/tags`: add these tags to (or remove them from) every named meter."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    meter_ids: MeterIds = Field(description=f"The meters to change (1-{MAX_METERS_PER_CHANGE}, this partner's)")
    tags: Annotated[list[Tag], Field(min_length=1, max_length=MAX_TAGS_PER_METER)] = Field(
        description=f"Tags of 1-128 characters; a meter holds at most {MAX_TAGS_PER_METER}"
    )


class ArchiveMetersRequest(ApiModel):
    """`POST|DELETE /v1.1/meters/archive`: archive (or restore) every named meter."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    meter_ids: MeterIds = Field(description=f"The meters to change (1-{MAX_METERS_PER_CHANGE}, this partner's)")


class PartnerMeterRefRequest(ApiModel):
    """`PATCH /v1.1/meters/{meter_id}/partner_meter_ref`: the meter's corrected partner_reference."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    partner_reference: PartnerReference = Field(
        description="3-256 characters, create's pattern; must not name another of the partner's meters"
    )


class PartnerMeterRefCorrection(PartnerMeterRefRequest):
    meter_id: UUID


class PartnerMeterRefsRequest(ApiModel):
    """`PATCH /v1.1/meters/partner_meter_ref`: several corrections, applied together or not at all."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    meters: Annotated[list[PartnerMeterRefCorrection], Field(min_length=1, max_length=MAX_REFERENCE_CORRECTIONS)] = (
        Field(description="Each meter and each new reference at most once; references may trade places")
    )
