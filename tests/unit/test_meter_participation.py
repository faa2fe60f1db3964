"""Participation requests over the InMemory repository, and what the derived enrollment makes of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from meterhub.catalog.enums import EnrollmentStatus, ParticipationPreference
from meterhub.meters.rules import participation
from meterhub.meters.rules.enrollment import INDEFINITELY, derive_enrollment
from meterhub.meters.use_cases.participation import only, request_disenrollment, request_idle, request_participation
from meterhub.platform.errors import InvalidInput, NotFound

from tests.fakes.meters import InMemoryMeterRepository
from tests.unit.test_meter_maintenance import LATER, OTHER, PARTNER, T0, store, stored

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
EAST = timezone(timedelta(hours=-5))
JUNE = datetime(2025, 6, 1, tzinfo=EAST)
JULY = datetime(2025, 7, 1, tzinfo=EAST)


def clock() -> datetime:
    return LATER


def test_an_idle_period_is_stored_in_utc_with_a_new_version(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter_id = store(repo, make_asset, 0)

    answer = only(request_idle(repo, PARTNER, meter_id, JUNE, JULY, "Renovation", now=clock))

    meter = stored(repo, 0)
    [period] = meter.non_participation
    assert (period.start_time, period.end_time) == (
        datetime(2025, 6, 1, 5, tzinfo=UTC),
        datetime(2025, 7, 1, 5, tzinfo=UTC),
    )
    assert period.start_time.utcoffset() == timedelta(0)
    assert (meter.version, meter.updated_at) == (2, LATER)
    assert [(p.participation_preference, p.reason) for p in answer.participation_preferences] == [
        (ParticipationPreference.PARTICIPATE, None),
        (ParticipationPreference.IDLE, "Renovation"),
    ]


def test_another_partners_meter_is_not_found_and_not_changed(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter_id = store(repo, make_asset, 0, partner_id=OTHER)
    with pytest.raises(NotFound):
        request_disenrollment(repo, PARTNER, meter_id, JUNE, None, now=clock)
    assert stored(repo, 0, OTHER).version == 1


def test_participating_when_nothing_stops_it_writes_nothing(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter_id = store(repo, make_asset, 0)
    request_participation(repo, PARTNER, meter_id, None, now=clock)
    assert (stored(repo, 0).version, stored(repo, 0).updated_at) == (1, T0)


def test_an_idle_period_ending_before_it_starts_is_refused_naming_end_time() -> None:
    with pytest.raises(InvalidInput) as refused:
        participation.with_idle_period([], JULY, JUNE, None)
    assert list(refused.value.details) == ["end_time"]


def test_overlapping_idle_periods_are_refused_and_adjoining_ones_kept() -> None:
    june = participation.with_idle_period([], JUNE, JULY, None)
    with pytest.raises(InvalidInput) as refused:
        participation.with_idle_period(june, JULY - timedelta(seconds=1), JULY + timedelta(days=5), None)
    assert list(refused.value.details) == ["start_time"]
    both = participation.with_idle_period(june, JULY, JULY + timedelta(days=5), None)
    assert [p.start_time for p in both] == [JUNE, JULY]


def test_a_new_disenrollment_replaces_the_earlier_one_and_idle_periods_stay() -> None:
    periods = participation.with_idle_period([], JUNE, JULY, None)
    periods = participation.with_disenrollment(periods, JULY + timedelta(days=30), "first")
    periods = participation.with_disenrollment(periods, JULY + timedelta(days=60), "second")
    assert [(p.preference, p.reason) for p in periods] == [("IDLE", None), ("DISENROLL", "second")]


def test_participating_cuts_what_has_begun_and_drops_what_has_not() -> None:
    periods = participation.with_idle_period([], JUNE, JULY, None)
    periods = participation.with_idle_period(periods, JULY + timedelta(days=10), JULY + timedelta(days=20), None)
    periods = participation.with_disenrollment(periods, JUNE - timedelta(days=10), None)
    middle = JUNE + timedelta(days=3)

    after = participation.participating_from(periods, middle)

    assert [(p.preference, p.start_time, p.end_time) for p in after] == [
        ("DISENROLL", JUNE - timedelta(days=10), middle),
        ("IDLE", JUNE, middle),
    ]


def test_the_enrollment_of_a_disenrolled_meter_is_not_participating(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter_id = store(repo, make_asset, 0)
    request_disenrollment(repo, PARTNER, meter_id, T0, None, now=clock)

    result = derive_enrollment(stored(repo, 0), LATER)

    assert result.global_enrollment_status is EnrollmentStatus.NOT_PARTICIPATING
    assert result.program_enrollment
    assert {p.enrollment_status for p in result.program_enrollment} == {EnrollmentStatus.NOT_PARTICIPATING}
    assert [(p.participation_preference, p.start_time, p.end_time) for p in result.participation_preferences] == [
        (ParticipationPreference.PARTICIPATE, T0, T0),
        (ParticipationPreference.DISENROLL, T0, INDEFINITELY),
    ]


def test_an_idle_period_covering_part_of_a_delivery_period_leaves_the_program_as_it_was(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter_id = store(repo, make_asset, 0)
    before = derive_enrollment(stored(repo, 0), LATER)
    [program] = before.program_enrollment[:1]
    start, end = program.delivery_period_start_date_time, program.delivery_period_end_date_time

    # Idle over all but the last hour of the period: the program still counts the meter in
    request_idle(repo, PARTNER, meter_id, start, end - timedelta(hours=1), None, now=clock)
    partly = derive_enrollment(stored(repo, 0), LATER)
    assert partly.program_enrollment[0].enrollment_status is program.enrollment_status
    assert partly.global_enrollment_status is before.global_enrollment_status  # LATER is before the period

    # Idle over the whole period: that program is NOT_PARTICIPATING
    request_participation(repo, PARTNER, meter_id, start, now=clock)
    request_idle(repo, PARTNER, meter_id, start, end, None, now=clock)
    whole = derive_enrollment(stored(repo, 0), LATER)
    assert whole.program_enrollment[0].enrollment_status is EnrollmentStatus.NOT_PARTICIPATING


def test_a_meter_is_not_participating_only_while_an_idle_period_is_in_effect() -> None:
    periods = participation.with_idle_period([], JUNE, JULY, None)
    assert participation.not_participating_at(periods, JUNE)
    assert not participation.not_participating_at(periods, JULY)
    assert not participation.not_participating_at(periods, JUNE - timedelta(microseconds=1))
