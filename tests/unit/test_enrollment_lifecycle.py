"""The enrollment lifecycle as stored state: writes evaluate it, the scheduled run moves it on with time.

An ERCOT ERS utility meter walks through it: created PENDING on the operator's registration, ELIGIBLE once
registered, committed when the June-September deadline (May 11) passes, ACTIVE on June 1 in its market group,
carried into October-November. The run is idempotent, resumable, and leaves the state a single run would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.catalog.enums import ActionType, EnrollmentStatus, ProgramIdentifier
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.records import EnrollmentState, MeterRecord, NonParticipation
from meterhub.meters.use_cases.enrolling import EnrollingMeterRepository
from meterhub.meters.use_cases.program_steps import record_program_step
from meterhub.meters.use_cases.transitions import run_transitions
from meterhub.platform.errors import InvalidInput

from tests.fakes.meters import InMemoryMeterRepository

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
PARTNER = "partner-1"
CREATED = datetime(2026, 5, 1, tzinfo=UTC)
DEADLINE = datetime(2026, 5, 11, tzinfo=UTC)  # June 1 less ERS's 21 days
JUNE = datetime(2026, 6, 1, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
SUMMER = "ERCOT-ERS_2026_JUN_SEP"
AUTUMN = "ERCOT-ERS_2026_OCT_NOV"


class World:
    """The in-memory repository behind an enrolling one whose clock the test sets."""

    def __init__(self) -> None:
        self.store = InMemoryMeterRepository()
        self.now = CREATED
        self.meters = EnrollingMeterRepository(self.store, lambda: self.now)

    def create(self, document: dict[str, Any], meter_id: str = "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11") -> str:
        data = CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True)
        record = MeterRecord(
            meter_id=meter_id,
            partner_id=PARTNER,
            partner_reference=document["partner_reference"],
            data=data,
            created_at=self.now,
            updated_at=self.now,
        )
        self.meters.create(record)
        return meter_id

    def register(self, meter_id: str) -> None:
        record_program_step(
            self.meters, PARTNER, meter_id, ProgramIdentifier.ERCOT_ERS, ActionType.HAS_MARKET_REGISTRATION,
            now=lambda: self.now,
        )  # fmt: skip

    def run(self, at: datetime, keep_going: Callable[[], bool] = lambda: True) -> dict[str, int | bool]:
        self.now = at
        return run_transitions(self.meters, at, keep_going).as_dict()

    def state(self, meter_id: str) -> EnrollmentState:
        meter = self.store.get(PARTNER, meter_id)
        assert meter is not None and meter.enrollment is not None
        return meter.enrollment


def ercot(make_asset: MakeAsset, reference: str = "tx-1") -> dict[str, Any]:
    return make_asset(
        reference,
        region="ERCOT",
        meter_type="UTILITY_METER",
        customer={
            "street_1": "1 Congress Ave",
            "postal_code": "78701",
            "city": "Austin",
            "state_or_province_code": "TX",
        },
        utility={"utility_name": "ONCOR", "electric_service_account_number": "10443720000000001"},
    )


def periods(state: EnrollmentState) -> list[tuple[str, str]]:
    return [(p.delivery_period, p.status) for p in state.periods]


def test_a_meter_goes_from_pending_through_eligible_to_active_and_into_the_next_period(make_asset: MakeAsset) -> None:
    world = World()
    # Given a complete ERCOT meter created on May 1: the partner's part is done, the operator's registration not
    meter_id = world.create(ercot(make_asset))
    created = world.state(meter_id)
    assert periods(created) == [(SUMMER, EnrollmentStatus.PENDING)]
    assert [(a.action_type, a.action_code) for a in created.leap_actions] == [("HAS_MARKET_REGISTRATION", "LEAP_0002")]
    assert created.partner_actions == [] and created.review_at == DEADLINE

    # When the operator records the registration, it is ELIGIBLE and nothing is left to do
    world.now = CREATED + timedelta(days=2)
    world.register(meter_id)
    registered = world.state(meter_id)
    assert (periods(registered), registered.global_status) == ([(SUMMER, "ELIGIBLE")], "ELIGIBLE")
    assert registered.leap_actions == [] and registered.partner_actions == []

    # When the deadline passes, the run commits it to June 1 and puts it in its market group
    assert world.run(DEADLINE) == {"due": 1, "changed": 1, "unchanged": 0, "skipped": 0, "finished": True}
    committed, upcoming = world.state(meter_id).periods
    assert (committed.delivery_period, committed.status, committed.enrolled_from) == (SUMMER, "ELIGIBLE", JUNE)
    assert (upcoming.delivery_period, upcoming.enrolled_from, upcoming.market_group_id) == (AUTUMN, None, None)
    assert committed.market_group_name == "ERCOT-ERS_ONCOR_UNSPECIFIED" and committed.market_group_id
    assert world.state(meter_id).review_at == JUNE

    # When June 1 comes, it is ACTIVE (and a second run at the same time finds nothing due)
    world.run(JUNE)
    active = world.state(meter_id)
    assert (active.global_status, active.periods[0].status) == ("ACTIVE", "ACTIVE")
    assert world.run(JUNE) == {"due": 0, "changed": 0, "unchanged": 0, "skipped": 0, "finished": True}
    stored = world.store.get(PARTNER, meter_id)
    assert stored is not None and stored.updated_at == JUNE  # last_modified finds a meter whose enrollment moved

    # When the autumn deadline and then October come, it is committed to autumn and ACTIVE there, and the winter
    # period is the next it can enroll in
    while world.now < OCTOBER:
        world.run(world.state(meter_id).review_at)
    autumn = world.state(meter_id)
    assert periods(autumn) == [(AUTUMN, "ACTIVE"), ("ERCOT-ERS_2026_DEC_2027_MAR", "ELIGIBLE")]
    assert autumn.periods[0].market_group_id == committed.market_group_id  # one group per utility and zone


def test_a_meter_not_ready_at_the_deadline_misses_the_period(make_asset: MakeAsset) -> None:
    world = World()
    # Given a meter whose registration is not recorded by the deadline
    meter_id = world.create(ercot(make_asset))
    world.run(DEADLINE)
    # Then it is shown for the next period, PENDING, and the missed one is gone
    assert periods(world.state(meter_id)) == [(AUTUMN, "PENDING")]
    # And registering it a day later makes it ELIGIBLE for autumn, not summer
    world.now = DEADLINE + timedelta(days=1)
    world.register(meter_id)
    assert periods(world.state(meter_id)) == [(AUTUMN, "ELIGIBLE")]


def test_a_write_after_an_unreviewed_deadline_is_judged_on_the_meter_as_it_was(make_asset: MakeAsset) -> None:
    world = World()
    # Given an unregistered meter, and a deadline the scheduled run has not reached yet
    meter_id = world.create(ercot(make_asset))
    # When the registration is recorded a minute after the deadline (before any run)
    world.now = DEADLINE + timedelta(minutes=1)
    world.register(meter_id)
    # Then it did not make the summer period: the meter was not ready when the deadline passed
    assert periods(world.state(meter_id)) == [(AUTUMN, "ELIGIBLE")]


def test_an_idle_summer_keeps_the_meter_out_of_it(make_asset: MakeAsset) -> None:
    world = World()
    meter_id = world.create(ercot(make_asset))
    world.register(meter_id)
    # Given an idle period over the whole summer, asked for before the deadline
    meter = world.store.get(PARTNER, meter_id)
    assert meter is not None
    idle = NonParticipation(preference="IDLE", start_time=JUNE, end_time=OCTOBER)
    world.meters.replace(meter.model_copy(update={"non_participation": [idle], "version": 3}), meter.version)
    assert periods(world.state(meter_id)) == [(SUMMER, "NOT_PARTICIPATING")]
    # When the deadline passes, the meter is not committed to the summer
    world.run(DEADLINE)
    assert all(p.enrolled_from is None for p in world.state(meter_id).periods)
    assert periods(world.state(meter_id)) == [(AUTUMN, "ELIGIBLE")]


def test_a_disenrollment_takes_effect_at_its_start_through_the_run(make_asset: MakeAsset) -> None:
    world = World()
    meter_id = world.create(ercot(make_asset))
    world.register(meter_id)
    world.run(DEADLINE)
    world.run(JUNE)
    # Given an ACTIVE meter disenrolled from July 1 (asked on June 15)
    world.now = JUNE + timedelta(days=14)
    meter = world.store.get(PARTNER, meter_id)
    assert meter is not None
    july = datetime(2026, 7, 1, tzinfo=UTC)
    leave = NonParticipation(preference="DISENROLL", start_time=july)
    world.meters.replace(meter.model_copy(update={"non_participation": [leave], "version": 5}), meter.version)
    # Then it is still ACTIVE until July 1, when the run makes it NOT_PARTICIPATING
    assert world.state(meter_id).global_status == "ACTIVE" and world.state(meter_id).review_at == july
    world.run(july)
    assert world.state(meter_id).global_status == "NOT_PARTICIPATING"


def test_a_run_stopped_halfway_and_run_again_ends_where_one_run_would(make_asset: MakeAsset) -> None:
    def fleet() -> tuple[World, list[str]]:
        world = World()
        ids = [world.create(ercot(make_asset, f"tx-{n}"), f"00000000-0000-0000-0000-00000000000{n}") for n in range(6)]
        for meter_id in ids:
            world.register(meter_id)
        return world, ids

    # Given two identical fleets of registered meters
    stopped, ids = fleet()
    whole, _ = fleet()
    # When one run is stopped after two meters, then run again, and the other fleet is run once
    budget = iter([True, True, False])
    first = stopped.run(DEADLINE, lambda: next(budget))
    second = stopped.run(DEADLINE)
    once = whole.run(DEADLINE)
    # Then the stopped run says so, the second does the rest, and every meter ends as in the single run
    assert (first["due"], first["finished"]) == (2, False)
    assert (second["due"], second["changed"], second["finished"]) == (4, 4, True)
    assert once["changed"] == 6
    assert [stopped.state(m).model_dump() for m in ids] == [whole.state(m).model_dump() for m in ids]


def test_the_operator_command_refuses_a_step_the_program_does_not_have(make_asset: MakeAsset) -> None:
    world = World()
    meter_id = world.create(ercot(make_asset))
    with pytest.raises(InvalidInput, match="no operator step"):
        record_program_step(world.meters, PARTNER, meter_id, ProgramIdentifier.ERCOT_ERS, ActionType.DOCUMENTS_SIGNED)
    with pytest.raises(InvalidInput, match="not open to"):
        record_program_step(world.meters, PARTNER, meter_id, ProgramIdentifier.DRAM, ActionType.HAS_MARKET_REGISTRATION)
