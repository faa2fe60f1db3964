"""meter_events: the webhook events one MetersTable stream record calls for, with ids stable across retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules import participation
from meterhub.meters.use_cases import maintain_meters
from meterhub.meters.use_cases.correct_reference import with_reference
from meterhub.meters.use_cases.meter_events import (
    event_id,
    events_for,
    membership_changes,
    publish_changes,
    record_memberships,
)
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange

from tests.fakes.meters import InMemoryGroupMembership
from tests.fakes.queues import InMemoryWorkQueue

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
CREATED = datetime(2025, 2, 3, 10, 30, tzinfo=UTC)
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
METER_ID = "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11"
ISONE_COMPLETE: dict[str, Any] = {
    "utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"},
    "isone": {"in_connected_solutions": True},
    "customer": {"dispatch_option": "DAILY"},
    "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
}


def image(document: dict[str, Any], version: int = 1) -> dict[str, Any]:
    """A MetersTable meter item (DynamoDB JSON) for a validated asset document."""
    data = CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True)
    record = MeterRecord(
        meter_id=METER_ID,
        partner_id="partner-1",
        partner_reference=document["partner_reference"],
        data=data,
        created_at=CREATED,
        updated_at=CREATED,
        version=version,
    )
    return item(record)


def item(record: MeterRecord) -> dict[str, Any]:
    """The MetersTable item (DynamoDB JSON) of a stored meter record."""
    return {
        "pk": {"S": f"PARTNER#{record.partner_id}"},
        "sk": {"S": f"METER#{record.meter_id}"},
        "doc": {"S": record.model_dump_json()},
        "version": {"N": str(record.version)},
    }


def change(name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, sk: str = "") -> StreamChange:
    keys = {"pk": {"S": "PARTNER#partner-1"}, "sk": {"S": sk or f"METER#{METER_ID}"}}
    return StreamChange(event_id="stream-event-1", event_name=name, keys=keys, new_image=new, old_image=old)


def types(events: list[Any]) -> list[str]:
    return [event.payload["webhook_event_type"] for event in events]


def test_insert_publishes_meter_created_and_the_initial_enrollment(make_asset: MakeAsset) -> None:
    # Given the stream record of a new ISONE device with only the required fields
    record = change("INSERT", image(make_asset("ma-1")))

    # When its events are derived
    events = events_for(record, NOW)

    # Then meter.created, the global status (PENDING, from nothing) and the required actions are published
    assert types(events) == [
        "meter.created",
        "meter.enrollment.global-status.updated",
        "meter.enrollment.required-actions.updated",
    ]
    created, status, actions = (event.payload for event in events)
    assert created == {
        "webhook_event_type": "meter.created",
        "meter_id": METER_ID,
        "partner_reference": "ma-1",
        "transmission_region": "ISONE",
        "meter_type": "DEVICE",
    }
    assert status["global_enrollment_status"] == "PENDING"
    assert actions["global_enrollment_status"] == "PENDING"
    assert {a["action_code"] for a in actions["required_actions"]["partner"]} == {"SERV_0005"}
    assert {event.partner_id for event in events} == {"partner-1"}


def test_insert_of_a_complete_meter_has_no_required_actions_event(make_asset: MakeAsset) -> None:
    # Given a new ISONE device carrying every program field
    events = events_for(change("INSERT", image(make_asset("ma-1", **ISONE_COMPLETE))), NOW)

    # Then it is created and ELIGIBLE, with no required actions to announce
    assert types(events) == ["meter.created", "meter.enrollment.global-status.updated"]
    assert events[1].payload["global_enrollment_status"] == "ELIGIBLE"


def test_modify_that_changes_a_required_action_publishes_it(make_asset: MakeAsset) -> None:
    # Given a meter that gains its utility block (its missing-fields actions change, the status stays PENDING)
    old = image(make_asset("ma-1"))
    new = image(make_asset("ma-1", utility=ISONE_COMPLETE["utility"]), version=2)

    # When the MODIFY record's events are derived
    events = events_for(change("MODIFY", new, old), NOW)

    # Then only the required-actions event is published
    assert types(events) == ["meter.enrollment.required-actions.updated"]
    assert events[0].payload["required_actions"]["partner"]


def test_modify_that_resolves_everything_publishes_status_and_empty_actions(make_asset: MakeAsset) -> None:
    # Given a meter updated with every program field
    old = image(make_asset("ma-1"))
    new = image(make_asset("ma-1", **ISONE_COMPLETE), version=2)

    # When the MODIFY record's events are derived
    events = events_for(change("MODIFY", new, old), NOW)

    # Then the status becomes ELIGIBLE and the required actions an empty object
    assert types(events) == ["meter.enrollment.global-status.updated", "meter.enrollment.required-actions.updated"]
    assert events[1].payload["required_actions"] == {}


def test_modify_without_a_derived_change_publishes_nothing(make_asset: MakeAsset) -> None:
    # Given a rewrite of a meter that changes nothing enrollment depends on
    old = image(make_asset("ma-1"))
    new = image(make_asset("ma-1", customer_group="group-b"), version=2)

    # Then no event is published
    assert events_for(change("MODIFY", new, old), NOW) == []


@pytest.mark.parametrize(
    "maintenance",
    [
        maintain_meters.adding_tags(["pilot", "block-7"]),
        maintain_meters.removing_tags(["old"]),
        maintain_meters.archiving(True),
        maintain_meters.archiving(False),
        lambda meter: with_reference(meter, "ma-1-corrected"),
    ],
    ids=["add-tags", "remove-tags", "archive", "unarchive", "correct-reference"],
)
@pytest.mark.parametrize("complete", [False, True], ids=["pending", "eligible"])
def test_maintenance_changes_publish_no_enrollment_events(
    make_asset: MakeAsset, maintenance: maintain_meters.Change, complete: bool
) -> None:
    # Given a stored meter (with required actions or without), tagged "old", archived or not
    document = make_asset("ma-1", **(ISONE_COMPLETE if complete else {}))
    before = MeterRecord.model_validate_json(image(document)["doc"]["S"])
    changed = 0
    for archived in (False, True):
        old = before.model_copy(update={"tags": ["old"], "is_archived": archived})

        # When a maintenance request changes it (the write the stream then sees as a MODIFY)
        new = maintenance(old)
        changed += new != old
        written = new.model_copy(update={"version": old.version + 1, "updated_at": NOW})

        # Then its enrollment is unchanged, so no meter.enrollment.* event says otherwise
        assert events_for(change("MODIFY", item(written), item(old)), NOW) == []
    assert changed  # the maintenance did change the meter in at least one of the two states


def test_reference_guards_removals_and_other_items_are_ignored(make_asset: MakeAsset) -> None:
    guard = {"pk": {"S": "PARTNER#partner-1"}, "sk": {"S": "REF#ma-1"}, "meter_id": {"S": METER_ID}}
    assert events_for(change("INSERT", guard, sk="REF#ma-1"), NOW) == []
    assert events_for(change("REMOVE", None, image(make_asset("ma-1"))), NOW) == []
    assert events_for(change("INSERT", {"pk": {"S": "X"}}, sk="OTHER#1"), NOW) == []


def test_event_ids_are_stable_across_retries_of_one_record(make_asset: MakeAsset) -> None:
    # Given one stream record published twice (a retried batch)
    record = change("INSERT", image(make_asset("ma-1")))
    queue = InMemoryWorkQueue()

    first = publish_changes(queue, record, NOW)
    second = publish_changes(queue, record, NOW)

    # Then the same webhook_event_ids are published, one per event type, distinct per type
    assert first == second
    assert len(set(first)) == 3
    assert first[0] == event_id("stream-event-1", WebhookEventType.METER_CREATED)
    assert uuid.UUID(first[0]).version == 5
    assert [m["webhook_event_id"] for m in queue.messages] == first + second
    assert queue.messages[0]["partner_id"] == "partner-1"
    other = StreamChange(event_id="stream-event-2", event_name="INSERT", keys=record.keys, new_image=record.new_image)
    assert set(publish_changes(queue, other, NOW)).isdisjoint(first)


# ----- participation ---------------------------------------------------------------------------------------

IDLE_START = datetime(2025, 6, 1, 4, tzinfo=UTC)
IDLE_END = datetime(2025, 7, 1, 4, tzinfo=UTC)


def participation_events(before: MeterRecord, after: MeterRecord) -> list[dict[str, Any]]:
    events = events_for(change("MODIFY", item(after), item(before)), NOW)
    kind = WebhookEventType.ENROLLMENT_PARTICIPATION_STATUS_UPDATED.value
    return [event.payload for event in events if event.payload["webhook_event_type"] == kind]


def test_an_idle_period_then_participating_again_each_publish_the_participation_status(
    make_asset: MakeAsset,
) -> None:
    # Given a meter, idled for June, then asked to participate again from mid-June
    meter = MeterRecord.model_validate_json(image(make_asset("ma-1", **ISONE_COMPLETE))["doc"]["S"])
    idle = meter.model_copy(
        update={"non_participation": participation.with_idle_period([], IDLE_START, IDLE_END, "Vacation")}
    )
    mid_june = datetime(2025, 6, 15, tzinfo=UTC)
    resumed = idle.model_copy(
        update={"non_participation": participation.participating_from(idle.non_participation, mid_june)}
    )

    # Then the idle write publishes IDLE for its period, the participate write PARTICIPATE from mid-June on
    common = {"meter_id": METER_ID, "partner_reference": "ma-1", "transmission_region": "ISONE"}
    [idled] = participation_events(meter, idle)
    assert idled == idled | common
    assert (idled["participation_preference"], idled["start_time"], idled["end_time"]) == (
        "IDLE",
        "2025-06-01T04:00:00Z",
        "2025-07-01T04:00:00Z",
    )
    [participating] = participation_events(idle, resumed)
    assert (participating["participation_preference"], participating["start_time"]) == (
        "PARTICIPATE",
        "2025-06-15T00:00:00Z",
    )


def test_a_disenrollment_publishes_it_and_other_changes_publish_no_participation_status(make_asset: MakeAsset) -> None:
    meter = MeterRecord.model_validate_json(image(make_asset("ma-1", **ISONE_COMPLETE))["doc"]["S"])
    disenrolled = meter.model_copy(update={"non_participation": participation.with_disenrollment([], IDLE_START, None)})
    [event] = participation_events(meter, disenrolled)
    assert (event["participation_preference"], event["end_time"]) == ("DISENROLL", "9000-01-01T00:00:00Z")
    # a tag or a reason changes no participation status, and a new meter only says meter.created
    assert participation_events(disenrolled, disenrolled.model_copy(update={"tags": ["x"]})) == []
    same_start = participation.with_disenrollment([], IDLE_START, "now with a reason")
    assert participation_events(disenrolled, disenrolled.model_copy(update={"non_participation": same_start})) == []
    kind = WebhookEventType.ENROLLMENT_PARTICIPATION_STATUS_UPDATED.value
    assert kind not in types(events_for(change("INSERT", item(disenrolled)), NOW))


def _in_groups(record: MeterRecord, *groups: tuple[str, str], version: int) -> MeterRecord:
    """The record with a stored enrollment whose committed periods carry these (group id, delivery period)s."""
    from meterhub.meters.records import EnrollmentState, PeriodEnrollment

    periods = [
        PeriodEnrollment(
            program_identifier="ERCOT-ERS",
            delivery_period=period,
            start=datetime(2025, 6, 1, tzinfo=UTC),
            end=datetime(2025, 10, 1, tzinfo=UTC),
            deadline=datetime(2025, 5, 11, tzinfo=UTC),
            activation=datetime(2025, 6, 1, tzinfo=UTC),
            status="ELIGIBLE",
            enrolled_from=datetime(2025, 6, 1, tzinfo=UTC),
            market_group_id=group_id,
            market_group_name=f"ERCOT-ERS_{period}",
        )
        for group_id, period in groups
    ]
    state = EnrollmentState(evaluated_at=NOW, global_status="ELIGIBLE", periods=periods, review_at=NOW)
    return record.model_copy(update={"enrollment": state, "version": version})


def test_a_write_records_each_market_group_the_meter_joined_or_left_and_sends_no_group_event(
    make_asset: MakeAsset,
) -> None:
    # meter.enrollment.group.updated lists the group's meters, so it is the scheduled run's snapshot
    # (use_cases.group_snapshots), not an event of this meter's write: the write records the membership
    base = MeterRecord.model_validate_json(image(make_asset("ma-1"))["doc"]["S"])
    summer, autumn = (
        ("11111111-1111-4111-8111-111111111111", "JUN-SEP"),
        ("22222222-2222-4222-8222-222222222222", "OCT-NOV"),
    )
    groups = InMemoryGroupMembership()
    joined = change("MODIFY", item(_in_groups(base, summer, version=1)), item(base))
    assert record_memberships(groups, joined, NOW) == 1
    before = _in_groups(base, summer, version=1)
    after = _in_groups(base, autumn, version=2)  # left the summer group, joined the autumn one
    moved = change("MODIFY", item(after), item(before))
    assert [(g.market_group_id, mid, j) for g, mid, j in membership_changes(moved, NOW)] == [
        (summer[0], METER_ID, False),
        (autumn[0], METER_ID, True),
    ]
    record_memberships(groups, moved, NOW)
    marks = {mark.group.market_group_id: mark.group for mark in groups.changed()}
    assert set(marks) == {summer[0], autumn[0]}
    assert list(groups.members(marks[summer[0]])) == []
    assert list(groups.members(marks[autumn[0]])) == [METER_ID]
    autumn_group = marks[autumn[0]]
    assert (autumn_group.partner_id, autumn_group.market_group_name) == ("partner-1", "ERCOT-ERS_OCT-NOV")
    assert (autumn_group.start, autumn_group.end) == (
        datetime(2025, 6, 1, tzinfo=UTC),
        datetime(2025, 10, 1, tzinfo=UTC),
    )
    assert "meter.enrollment.group.updated" not in types(events_for(moved, NOW))
    # A write that keeps the meter in its groups records nothing; a removed meter leaves its groups
    kept = change("MODIFY", item(after.model_copy(update={"version": 3})), item(after))
    assert membership_changes(kept, NOW) == []
    removed = change("REMOVE", None, item(after))
    assert [(g.market_group_id, j) for g, _, j in membership_changes(removed, NOW)] == [(autumn[0], False)]
    # Items that are not meters (a reference guard, a group's own items) are not read as meters
    guard = {"pk": {"S": "PARTNER#partner-1"}, "sk": {"S": "REF#ma-1"}, "meter_id": {"S": METER_ID}}
    assert membership_changes(change("INSERT", guard, sk="REF#ma-1"), NOW) == []
