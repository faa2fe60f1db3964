"""One meter's participation requests (participate, idle, disenroll), answered with its enrollment afterwards.

Each is a change of the stored meter written like every other meter change (maintain_meters.apply_change: a
conditional write on the version read, retried from fresh reads on a concurrent change), so the enrollment read
and the meter stream see it at once. Another partner's meter is a 404; a broken rule a 400 and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from meterhub.meters.api_models.responses import MeterEnrollmentResponse
from meterhub.meters.ports import MeterRepository
from meterhub.meters.records import MeterRecord, NonParticipation
from meterhub.meters.rules import participation
from meterhub.meters.use_cases.maintain_meters import Clock, apply_change, utc_now
from meterhub.meters.use_cases.read_meters import get_enrollment

PeriodsChange = Callable[[list[NonParticipation]], list[NonParticipation]]


def request_idle(
    repo: MeterRepository,
    partner_id: str,
    meter_id: str,
    start: datetime,
    end: datetime,
    reason: str | None,
    now: Clock = utc_now,
) -> MeterEnrollmentResponse:
    def idle(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.with_idle_period(periods, _utc(start), _utc(end), reason)

    return _change(repo, partner_id, meter_id, idle, now)


def request_disenrollment(
    repo: MeterRepository,
    partner_id: str,
    meter_id: str,
    start: datetime,
    reason: str | None,
    now: Clock = utc_now,
) -> MeterEnrollmentResponse:
    def disenroll(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.with_disenrollment(periods, _utc(start), reason)

    return _change(repo, partner_id, meter_id, disenroll, now)


def request_participation(
    repo: MeterRepository, partner_id: str, meter_id: str, start: datetime | None, now: Clock = utc_now
) -> MeterEnrollmentResponse:
    """From `start` (now when absent) the meter participates: idle periods and disenrollment end there."""
    at = _utc(start) if start is not None else now()

    def participate(periods: list[NonParticipation]) -> list[NonParticipation]:
        return participation.participating_from(periods, at)

    return _change(repo, partner_id, meter_id, participate, now)


def _change(
    repo: MeterRepository,
    partner_id: str,
    meter_id: str,
    periods_after: PeriodsChange,
    now: Clock,
) -> MeterEnrollmentResponse:
    def change(meter: MeterRecord) -> MeterRecord:
        after = periods_after(list(meter.non_participation))
        return meter.model_copy(update={"non_participation": after}) if after != meter.non_participation else meter

    apply_change(repo, partner_id, [meter_id], change, now)
    return get_enrollment(repo, partner_id, meter_id, now())  # as stored by the write


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
