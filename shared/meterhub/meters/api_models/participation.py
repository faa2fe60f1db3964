"""Request models of one meter's participation requests: participate, idle, disenroll.

Leap's reference confirms `POST /v1.1/enrollment/meters/{meter_id}/participate` but publishes no body for it or
its idle and disenroll siblings (and no bulk forms: `POST /v1.1/enrollment/meters/{participate,idle,disenroll}`
with `meter_ids` are ours); the shapes follow its `ParticipationPreferenceResponse` (`start_time`,
`end_time`, `reason`). Times are in the meter's local time (Leap's rule for idle and disenroll periods), so each
must carry its UTC offset: a time without one is a 400 naming the field.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from meterhub.platform.api.envelopes import ApiModel

MAX_REASON_LENGTH = 256
MAX_BULK_METERS = 100
BulkMeterIds = Annotated[
    list[UUID],
    Field(
        min_length=1,
        max_length=MAX_BULK_METERS,
        description=f"The meters (at most {MAX_BULK_METERS}); all are changed or, on any refusal, none",
    ),
]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_LENGTH)]
LOCAL_TIME = "In the meter's local time, with its UTC offset (e.g. 2030-06-01T00:00:00-07:00)"


class IdlePeriodRequest(ApiModel):
    """`POST /v1.1/enrollment/meters/{meter_id}/idle`: the meter does not participate from start to end."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    start_time: AwareDatetime = Field(description=LOCAL_TIME)
    end_time: AwareDatetime = Field(description=f"After start_time. {LOCAL_TIME}")
    reason: Reason | None = None


class DisenrollRequest(ApiModel):
    """`POST /v1.1/enrollment/meters/{meter_id}/disenroll`: the meter stops participating from start_time on."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    start_time: AwareDatetime = Field(description=LOCAL_TIME)
    reason: Reason | None = None


class ParticipateRequest(ApiModel):
    """`POST /v1.1/enrollment/meters/{meter_id}/participate`: the meter participates from start_time on."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    start_time: AwareDatetime | None = Field(default=None, description=f"Now when absent. {LOCAL_TIME}")


class BulkIdlePeriodRequest(IdlePeriodRequest):
    """`POST /v1.1/enrollment/meters/idle`: the same idle period for several meters, all or none."""

    meter_ids: BulkMeterIds


class BulkDisenrollRequest(DisenrollRequest):
    """`POST /v1.1/enrollment/meters/disenroll`: several meters stop participating, all or none."""

    meter_ids: BulkMeterIds


class BulkParticipateRequest(ParticipateRequest):
    """`POST /v1.1/enrollment/meters/participate`: several meters participate again, all or none."""

    meter_ids: BulkMeterIds
