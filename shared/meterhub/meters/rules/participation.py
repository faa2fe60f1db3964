"""A meter's participation preference: PARTICIPATE unless the partner asked for an idle period or a disenrollment.

Leap confirms only `POST /v1.1/enrollment/meters/{meter_id}/participate` and publishes none of the bodies; idle
and disenroll are its reference's other two participation operations. Leap says idle and disenroll periods follow
the meter's local time while its answers are UTC, so a request's times must carry the meter's UTC offset (a time
without one is ambiguous and refused) and are kept, and answered, as UTC instants.

* IDLE: a bounded period (end after start); a meter's idle periods may not overlap one another.
* DISENROLL: from its start until the partner asks the meter to participate again; a new disenrollment replaces
  the one the meter has.
* PARTICIPATE from a time: every idle period and disenrollment is ended there (those starting later are dropped),
  so the meter participates from then on.

A meter is NOT_PARTICIPATING while an idle period or its disenrollment covers the moment asked about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from meterhub.catalog.enums import ParticipationPreference
from meterhub.meters.api_models.responses import ParticipationPreferenceEntry
from meterhub.meters.records import NonParticipation
from meterhub.platform.errors import InvalidInput


def with_idle_period(
    periods: Sequence[NonParticipation], start: datetime, end: datetime, reason: str | None
) -> list[NonParticipation]:
    """The periods with this idle period added; 400 if it ends before it starts or overlaps another idle one."""
    if end <= start:
        raise InvalidInput("The idle period ends before it starts", {"end_time": "must be after start_time"})
    for other in periods:
        if other.preference != ParticipationPreference.IDLE or other.end_time is None:
            continue
        if start < other.end_time and other.start_time < end:
            raise InvalidInput(
                "The idle period overlaps another idle period of this meter",
                {
                    "start_time": f"overlaps the idle period {other.start_time.isoformat()} - "
                    f"{other.end_time.isoformat()}"
                },
            )
    added = NonParticipation(preference=ParticipationPreference.IDLE, start_time=start, end_time=end, reason=reason)
    return _ordered([*periods, added])


def with_disenrollment(
    periods: Sequence[NonParticipation], start: datetime, reason: str | None
) -> list[NonParticipation]:
    """The periods with the meter disenrolled from `start` on (replacing an earlier disenrollment)."""
    kept = [period for period in periods if period.preference != ParticipationPreference.DISENROLL]
    added = NonParticipation(preference=ParticipationPreference.DISENROLL, start_time=start, reason=reason)
    return _ordered([*kept, added])


def participating_from(periods: Sequence[NonParticipation], start: datetime) -> list[NonParticipation]:
    """The periods cut at `start`: one that has begun ends there, one that begins later is dropped."""
    kept: list[NonParticipation] = []
    for period in periods:
        if period.start_time >= start:
            continue
        if period.end_time is None or period.end_time > start:
            period = period.model_copy(update={"end_time": start})
        kept.append(period)
    return kept


def not_participating(periods: Sequence[NonParticipation], start: datetime, end: datetime) -> bool:
    """Some idle period or disenrollment covers the whole of [start, end)."""
    return any(period.covers(start, end) for period in periods)


def not_participating_at(periods: Sequence[NonParticipation], at: datetime) -> bool:
    """An idle period or the disenrollment is in effect at `at` (its start included, its end not)."""
    return any(p.start_time <= at and (p.end_time is None or at < p.end_time) for p in periods)


def changed_preference(
    before: Sequence[NonParticipation], after: Sequence[NonParticipation], indefinitely: datetime
) -> ParticipationPreferenceEntry | None:
    """What a change of the periods did, as one preference: the latest period it added, else PARTICIPATE from the
    earliest point it cut or dropped a period (a participate request); None when only a reason changed."""
    old = {(p.preference, p.start_time): p for p in before}
    new = {(p.preference, p.start_time): p for p in after}
    added = [period for k, period in new.items() if k not in old]
    if added:
        latest = max(added, key=lambda period: period.start_time)
        return ParticipationPreferenceEntry(
            participation_preference=ParticipationPreference(latest.preference),
            start_time=latest.start_time,
            end_time=latest.end_time or indefinitely,
            reason=latest.reason,
        )
    resumed = [period.start_time for k, period in old.items() if k not in new]
    resumed += [cut.end_time for k, cut in new.items() if cut.end_time is not None and cut.end_time != old[k].end_time]
    if not resumed:
        return None
    return ParticipationPreferenceEntry(
        participation_preference=ParticipationPreference.PARTICIPATE, start_time=min(resumed), end_time=indefinitely
    )


def _ordered(periods: list[NonParticipation]) -> list[NonParticipation]:
    return sorted(periods, key=lambda period: (period.start_time, period.preference))
