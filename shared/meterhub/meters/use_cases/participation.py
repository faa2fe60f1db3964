"""Participation requests (participate, idle, disenroll) for one meter or several, answered with their enrollment
afterwards.

Each is a change of the stored meters written like every other meter change (maintain_meters.apply_change: one
conditional write over the versions read, retried from fresh reads on a concurrent change), so the enrollment read
and the meter stream see it at once. For several meters it is all or nothing: another partner's (or an unknown)
meter is a 404, a rule broken on any meter (an idle period overlapping one of its own) a 400, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from meterhub.meters.api_models.responses import ListMeterEnrollmentsResponse, MeterEnrollmentResponse
from meterhub.meters.ports import MeterRepository
from meterhub.meters.records import MeterRecord, NonParticipation
from meterhub.meters.rules import participation
from meterhub.meters.use_cases.maintain_meters import Clock, apply_change, utc_now
from meterhub.meters.use_cases.read_meters import get_enrollment

PeriodsChange = Callable[[list[NonParticipation]], list[NonParticipation]]
MeterIds = str | Sequence[UUID | str]


def request_idle(
    repo: MeterRepository,
    partner_id: str,
    meter_ids: MeterIds,
    start: datetime,
    end: datetime,
    reason: str | None,
    now: Clock = utc_now,
) -> ListMeterEnrollmentsResponse:
    def idle(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.with_idle_period(periods, _utc(start), _utc(end), reason)

    return _change(repo, partner_id, meter_ids, idle, now)


def request_disenrollment(
    repo: MeterRepository,
    partner_id: str,
    meter_ids: MeterIds,
    start: datetime,
    reason: str | None,
    now: Clock = utc_now,
) -> ListMeterEnrollmentsResponse:
    def disenroll(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.with_disenrollment(periods, _utc(start), reason)

    return _change(repo, partner_id, meter_ids, disenroll, now)


def request_participation(
    repo: MeterRepository, partner_id: str, meter_ids: MeterIds, start: datetime | None, now: Clock = utc_now
) -> ListMeterEnrollmentsResponse:
    """From `start` (now when absent) the meters participate: idle periods and disenrollments end there."""
    at = _utc(start) if start is not None else now()

    def participate(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.participating_from(periods, at)

    return _change(repo, partner_id, meter_ids, participate, now)


def only(answer: ListMeterEnrollmentsResponse) -> MeterEnrollmentResponse:
    """The enrollment of a one-meter request."""
    [meter] = answer.meters
    return meter


def _change(
    repo: MeterRepository,
    partner_id: str,
    meter_ids: MeterIds,
    periods_after: PeriodsChange,
    now: Clock,
) -> ListMeterEnrollmentsResponse:
    def change(meter: MeterRecord) -> MeterRecord:
        after = periods_after(list(meter.non_participation))
        return meter.model_copy(update={"non_participation": after}) if after != meter.non_participation else meter

    named = [meter_ids] if isinstance(meter_ids, str) else [str(meter_id) for meter_id in meter_ids]
    changed = apply_change(repo, partner_id, named, change, now)
    at = now()
    # As stored by the write (each meter's enrollment evaluated with its new periods)
    return ListMeterEnrollmentsResponse(meters=[get_enrollment(repo, partner_id, m.meter_id, at) for m in changed])


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
